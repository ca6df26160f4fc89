//! The Bot API client's file methods against the fake Bot API over HTTP: `getFile` and the download
//! (with its limit), uploads as `multipart/form-data` with `sendPhoto` and `sendDocument`, and
//! Telegram's refusals of each (an unknown file, one above the bots' 20 MB download limit, a photo
//! above 10 MB).

use serverless_openclaw_telegram::BotApi;
use serverless_openclaw_telegram::api::{ApiError, Upload};
use serverless_openclaw_testkit::fake_telegram::FakeTelegram;

const CHAT: i64 = 31;

#[tokio::test]
async fn a_file_is_prepared_then_downloaded_within_a_limit() {
    let fake = FakeTelegram::start().await.unwrap();
    let api = BotApi::new(&fake.base_url(), fake.token());
    let bytes: Vec<u8> = (0..=255).cycle().take(5_000).collect();
    let id = fake.add_file(bytes.clone());
    let file = api.get_file(&id).await.unwrap();
    assert_eq!(file.file_size, Some(5_000));
    let path = file.file_path.expect("a path");
    assert_eq!(api.download(&path, 5_000).await.unwrap(), bytes);
    assert!(matches!(
        api.download(&path, 4_999).await,
        Err(ApiError::TooLarge { limit: 4_999 })
    ));
    assert_eq!(fake.downloads(), [path.clone(), path.clone()]);

    let unknown = api.get_file("nope").await.unwrap_err();
    assert!(unknown.to_string().contains("invalid file_id"), "{unknown}");
    assert!(!unknown.is_file_too_big());
    let huge = fake.add_file(vec![0; 20 * 1024 * 1024 + 1]);
    let refused = api.get_file(&huge).await.unwrap_err();
    assert!(refused.is_file_too_big(), "{refused}");
    let missing = api.download("documents/none", 10).await.unwrap_err();
    assert!(
        matches!(missing, ApiError::Refused { code: 404, .. }),
        "{missing}"
    );
}

#[tokio::test]
async fn files_are_uploaded_as_photos_or_documents_within_telegrams_limits() {
    let fake = FakeTelegram::start().await.unwrap();
    let api = BotApi::new(&fake.base_url(), fake.token());
    let png = serverless_openclaw_testkit::images::solid_png(3, 2, [1, 2, 3]);
    let photo = api
        .send_file(CHAT, Upload::Photo, "chart.png", "image/png", &png, 10_005)
        .await
        .unwrap();
    let document = api
        .send_file(
            CHAT,
            Upload::Document,
            "notes.md",
            "text/markdown",
            b"# hi",
            10_005,
        )
        .await
        .unwrap();
    let uploads = fake.uploads(CHAT);
    assert_eq!(uploads.len(), 2);
    assert_eq!(
        (
            uploads[0].method.as_str(),
            uploads[0].message_id,
            uploads[0].reply_to
        ),
        ("sendPhoto", photo, Some(10_005))
    );
    assert_eq!(uploads[0].bytes, png);
    assert_eq!(uploads[0].content_type.as_deref(), Some("image/png"));
    assert_eq!(
        (uploads[1].method.as_str(), uploads[1].message_id),
        ("sendDocument", document)
    );
    assert_eq!(uploads[1].file_name.as_deref(), Some("notes.md"));
    assert_eq!(uploads[1].bytes, b"# hi");

    let too_big = vec![0; 10_000_001];
    let refused = api
        .send_file(CHAT, Upload::Photo, "big.png", "image/png", &too_big, 1)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ApiError::Refused { code: 413, .. }),
        "{refused}"
    );
    api.send_file(
        CHAT,
        Upload::Document,
        "big.bin",
        "application/octet-stream",
        &too_big,
        1,
    )
    .await
    .expect("a document may be larger");
    let empty = api
        .send_file(CHAT, Upload::Document, "empty.txt", "text/plain", b"", 1)
        .await
        .unwrap_err();
    assert!(
        empty.to_string().contains("file must be non-empty"),
        "{empty}"
    );
    assert_eq!(fake.uploads(CHAT).len(), 3, "refused uploads are not kept");
}
