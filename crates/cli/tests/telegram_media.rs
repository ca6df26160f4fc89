//! Photos, albums, documents and the agent's files on Telegram in local mode, end to end: long polling
//! against the fake Bot API (`getFile`, the file download, `sendPhoto`), the real server, OpenClaw
//! runner and attachment store, the fake LLM. A photo reaches the model as an image, byte for byte
//! (the largest size only is fetched); an album is one turn with all its images; a document lies in
//! the workspace where a scripted `read` finds it; a file that is too large, of a type we do not
//! take, corrupt or that cannot be fetched is refused in the chat and stores nothing; an image the
//! agent attaches to its reply arrives with `sendPhoto`. (Voice notes: `telegram_voice.rs`.)

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use serverless_openclaw_testkit::fake_llm::{Behaviour, FakeLlm, ToolCall};
use serverless_openclaw_testkit::fake_telegram::{
    FakeTelegram, document_update, in_album, photo_update, text_update,
};
use serverless_openclaw_testkit::images::solid_png;
use support::TestApp;

const TURN_TIMEOUT: Duration = Duration::from_secs(120);
/// A cold runner start on 2 cores plus the reply.
const REPLY_WAIT: Duration = Duration::from_secs(180);
const OWNER: i64 = 5_151;
const NOTES: &str = "The boat leaves at dawn from pier 9.\n";

#[tokio::test(flavor = "multi_thread")]
async fn photos_albums_and_documents_reach_the_agent_and_its_image_comes_back_as_a_photo() {
    let fake = FakeLlm::start().await;
    let telegram = FakeTelegram::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let (app, polling) =
        TestApp::spawn_polling_bot(data.path(), &fake, &telegram, TURN_TIMEOUT).await;
    app.link_telegram(&telegram, OWNER, 1, REPLY_WAIT).await;

    // A photo with a caption: only its largest size is fetched, and it reaches the model as an image.
    fake.set_behaviour(Behaviour::Reply);
    let (thumb, photo) = (
        solid_png(9, 6, [10, 10, 10]),
        solid_png(48, 32, [200, 40, 90]),
    );
    let thumb_id = telegram.add_file(thumb.clone());
    let photo_id = telegram.add_file(photo.clone());
    telegram.push_update(photo_update(
        2,
        OWNER,
        &[
            (thumb_id.as_str(), 9, 6, thumb.len()),
            (photo_id.as_str(), 48, 32, photo.len()),
        ],
        Some("What is this?"),
    ));
    telegram
        .wait_for_finals(OWNER, 1, REPLY_WAIT)
        .await
        .expect("a final reply");
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let images = requests[0].images();
    assert_eq!(images.len(), 1, "{images:?}");
    assert_eq!(
        images[0].bytes().as_deref(),
        Some(&photo[..]),
        "byte for byte"
    );
    let prompt = requests[0].last_user_text().unwrap();
    assert!(prompt.starts_with("What is this?"), "{prompt}");
    assert!(
        prompt.contains("[Attached image: photo-10002.jpg]"),
        "{prompt}"
    );
    assert_eq!(
        telegram.downloads().len(),
        1,
        "the thumbnail is not fetched"
    );
    assert_eq!(telegram.reactions(OWNER, 10_002), ["👀"]);

    // An album: two photos, one message each, the caption on the first; one turn with both images.
    let (red, blue) = (
        solid_png(20, 10, [220, 30, 30]),
        solid_png(10, 20, [30, 30, 220]),
    );
    let red_id = telegram.add_file(red.clone());
    let blue_id = telegram.add_file(blue.clone());
    let finals = telegram.finals(OWNER).len();
    telegram.push_update(in_album(
        photo_update(
            3,
            OWNER,
            &[(red_id.as_str(), 20, 10, red.len())],
            Some("Compare these."),
        ),
        "album-1",
    ));
    telegram.push_update(in_album(
        photo_update(4, OWNER, &[(blue_id.as_str(), 10, 20, blue.len())], None),
        "album-1",
    ));
    telegram
        .wait_for_finals(OWNER, finals + 1, REPLY_WAIT)
        .await
        .expect("a final reply");
    // The turn of the first photo ends without a word once it sees the second: give it time to.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "one turn for the album");
    let images: Vec<Vec<u8>> = requests[1]
        .images()
        .iter()
        .map(|i| i.bytes().unwrap())
        .collect();
    // The request holds the conversation so far: the first photo (kept in OpenClaw's transcript),
    // then the album's two with the new message.
    assert_eq!(images.len(), 3, "{} images", images.len());
    assert_eq!(
        images[1..],
        [red.clone(), blue.clone()],
        "both images, in order"
    );
    let prompt = requests[1].last_user_text().unwrap();
    assert!(prompt.starts_with("Compare these."), "{prompt}");
    assert!(
        !prompt.contains("\n\n\n\n"),
        "no empty paragraph: {prompt:?}"
    );

    // A document lands in the workspace: a scripted `read` finds it where the prompt says.
    let (_, list) = app.get("/api/conversations").await;
    let conversation = list["conversations"][0]["id"].as_str().unwrap().to_owned();
    let notes_id = telegram.add_file(NOTES.as_bytes().to_vec());
    fake.push_behaviour(Behaviour::tool_calls([ToolCall::new(
        "read",
        json!({"path": format!(".attachments/{conversation}/notes.txt")}),
    )]));
    fake.push_behaviour(Behaviour::Reply);
    let finals = telegram.finals(OWNER).len();
    telegram.push_update(document_update(
        5,
        OWNER,
        &notes_id,
        "notes.txt",
        "text/plain",
        NOTES.len(),
        Some("When does the boat leave?"),
    ));
    telegram
        .wait_for_finals(OWNER, finals + 1, REPLY_WAIT)
        .await
        .expect("a final reply");
    let requests = fake.requests();
    assert_eq!(requests.len(), 4, "the read, then the answer");
    let prompt = requests[2].last_user_text().unwrap();
    assert!(
        prompt.contains(&format!(
            "[Attached file: .attachments/{conversation}/notes.txt (text/plain"
        )),
        "{prompt}"
    );
    let results = requests[3].tool_results();
    assert!(
        results.len() == 1 && !results[0].is_error && results[0].content.contains("pier 9"),
        "{results:?}"
    );

    // Refusals: each told in plain words; nothing is stored, nothing reaches the agent.
    let stored = stored_files(data.path());
    let (_, history) = app
        .get(&format!("/api/conversations/{conversation}/messages"))
        .await;
    let messages = history["messages"].as_array().unwrap().len();
    let big = solid_png(2000, 1900, [1, 2, 3]);
    let cases = [
        (
            telegram.add_file(big.clone()),
            "big.png",
            "image/png",
            big.len(),
            "I couldn't take that file: the image is larger than 10 MiB, the limit for images.",
        ),
        (
            telegram.add_file(b"PK\x03\x04 an archive".to_vec()),
            "archive.zip",
            "application/zip",
            20,
            "I couldn't take that file: application/zip files are not accepted",
        ),
        (
            telegram.add_file(b"not a png at all".to_vec()),
            "broken.png",
            "image/png",
            16,
            "I couldn't take that file: the file says it is image/png, but its bytes are not",
        ),
        (
            "no-such-file".to_owned(),
            "gone.pdf",
            "application/pdf",
            100,
            "I couldn't download that file from Telegram; please send it again.",
        ),
    ];
    for (i, (file_id, name, mime, size, told)) in cases.iter().enumerate() {
        let before = telegram.texts(OWNER).len();
        telegram.push_update(document_update(
            6 + i as i64,
            OWNER,
            file_id,
            name,
            mime,
            *size,
            None,
        ));
        let answer = telegram
            .wait_for_text(OWNER, before, "I couldn't", REPLY_WAIT)
            .await
            .unwrap_or_else(|| panic!("no \"I couldn't\" reply: {:#?}", telegram.calls()));
        assert!(answer.starts_with(told), "{name}: {answer}");
    }
    assert_eq!(stored_files(data.path()), stored, "nothing stored");
    let (_, history) = app
        .get(&format!("/api/conversations/{conversation}/messages"))
        .await;
    assert_eq!(history["messages"].as_array().unwrap().len(), messages);
    assert_eq!(fake.requests().len(), 4, "nothing reached the agent");

    // The agent draws an image and attaches it to its reply: it arrives as a photo after the text.
    let chart = solid_png(5, 3, [30, 160, 60]);
    fake.push_agent_attaches("chart.png", &chart, "Here is your chart.");
    telegram.push_update(text_update(20, OWNER, "Draw me a chart."));
    let sent = telegram
        .wait_for_call("sendPhoto", |c| c.status == 200, REPLY_WAIT)
        .await;
    assert!(sent.is_some(), "{:#?}", telegram.calls());
    let uploads = telegram.uploads(OWNER);
    assert_eq!(uploads.len(), 1, "{uploads:?}");
    assert_eq!(uploads[0].method, "sendPhoto");
    assert_eq!(uploads[0].bytes, chart, "byte for byte");
    assert_eq!(uploads[0].file_name.as_deref(), Some("chart.png"));
    assert_eq!(uploads[0].content_type.as_deref(), Some("image/png"));
    assert_eq!(uploads[0].reply_to, Some(10_020));
    let text_at = telegram.calls().iter().position(|c| {
        c.body["text"]
            .as_str()
            .is_some_and(|t| t.contains("Here is your chart."))
    });
    let photo_at = telegram
        .calls()
        .iter()
        .position(|c| c.method == "sendPhoto");
    assert!(text_at < photo_at, "the text comes first");

    polling.stop().await;
    app.stop().await;
}

/// The files of the data dir's attachment store.
fn stored_files(data: &Path) -> Vec<std::path::PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&data.join("attachments"), &mut found);
    found.sort();
    found
}
