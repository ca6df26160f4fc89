//! Skills end to end in local mode: the composed app with the real OpenClaw runner and the fake LLM. A
//! skill uploaded over REST shows in the next turn's system prompt (name and description), also when it
//! was uploaded while a turn of the user was in flight; `/skill <name>` reaches the model as OpenClaw's
//! explicit skill prompt, whose relative `SKILL.md` path the agent's `read` tool resolves in the
//! workspace; an unknown `/skill` is refused listing the available ones; a disabled or deleted skill is
//! gone from the next prompt; a Telegram guest (another user) never sees the owner's skills.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use serverless_openclaw_cli::LOCAL_USER;
use serverless_openclaw_testkit::fake_llm::{Api, Behaviour, FakeLlm, RecordedRequest, ToolCall};
use serverless_openclaw_testkit::fake_telegram::{FakeTelegram, text_update};
use support::{TOKEN, TestApp};

const TURN_TIMEOUT: Duration = Duration::from_secs(120);
/// A cold runner start on 2 cores plus a turn.
const REPLY_WAIT: Duration = Duration::from_secs(240);
const GUEST: i64 = 5_151;
const ZETA_BODY: &str = "ZETA-BODY-7f3: always answer in haiku.";

fn skill_md(name: &str, description: &str, body: &str) -> String {
    format!("---\nname: {name}\ndescription: {description}\n---\n{body}\n")
}

async fn put_skill(app: &TestApp, name: &str, markdown: String) -> (u16, Value) {
    let response = reqwest::Client::new()
        .put(app.url(&format!("/api/skills/{name}")))
        .bearer_auth(TOKEN)
        .header("content-type", "text/markdown")
        .body(markdown)
        .send()
        .await
        .expect("PUT");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The system prompt of a request (Anthropic's `system` blocks, joined).
fn system_of(request: &RecordedRequest) -> String {
    match &request.body["system"] {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// Sends `text` in `conversation` on the web chat and returns the system prompt of the turn's last
/// model request.
async fn web_turn(
    client: &mut support::Client,
    fake: &FakeLlm,
    conversation: &str,
    id: &str,
    text: &str,
) -> String {
    client.send_message(conversation, id, text).await;
    let turn = client.turn().await;
    turn.content();
    system_of(fake.requests().last().expect("a model request"))
}

#[tokio::test]
async fn skills_reach_the_owner_s_prompts_follow_their_changes_and_never_another_user_s() {
    let fake = FakeLlm::start().await;
    let telegram = FakeTelegram::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let (app, polling) = TestApp::spawn_polling_bot_allowing(
        data.path(),
        &fake,
        &telegram,
        TURN_TIMEOUT,
        vec![GUEST],
    )
    .await;
    let mut client = app.connect().await;
    let conversation = app.create_conversation("skills").await;

    let (status, body) = put_skill(
        &app,
        "zeta-skill",
        skill_md("zeta-skill", "ZETA-DESC-123 does zeta things", ZETA_BODY),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let system = web_turn(&mut client, &fake, &conversation, "c-1", "hello").await;
    assert!(
        system.contains("<name>zeta-skill</name>")
            && system.contains("<description>ZETA-DESC-123 does zeta things</description>"),
        "the uploaded skill is in the prompt: {system}"
    );

    // `/skill`: the model gets OpenClaw's explicit skill prompt; reading the relative path it names
    // finds the skill in the workspace (the agent's working folder).
    fake.push_behaviour(Behaviour::tool_calls([ToolCall::new(
        "read",
        json!({"path": "skills/zeta-skill/SKILL.md"}),
    )]));
    client
        .send_message(&conversation, "c-2", "/skill zeta-skill write a poem")
        .await;
    client.turn().await.content();
    let requests = fake.requests();
    let invoked = &requests[requests.len() - 2];
    assert_eq!(
        Api::AnthropicMessages
            .last_user_text(&invoked.body)
            .as_deref(),
        Some(
            "Use the following explicitly referenced skills for this request. Read each skill's \
             SKILL.md before acting:\n- zeta-skill (SKILL.md: skills/zeta-skill/SKILL.md)\n\nUser \
             request:\n/skill zeta-skill write a poem"
        )
    );
    let conversation_seen = Api::AnthropicMessages.conversation(&requests.last().unwrap().body);
    let (role, result) = conversation_seen.last().unwrap();
    assert_eq!(role, "tool");
    assert!(
        result.contains(ZETA_BODY),
        "the read found the skill: {result}"
    );

    // An unknown skill is refused at once, naming what there is; nothing reaches the model.
    let seen = fake.request_count();
    client
        .send_message(&conversation, "c-3", "/skill nope do it")
        .await;
    let notice = client.next_of("notice").await;
    let text = notice["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("\"nope\"") && text.contains("Available: zeta-skill."),
        "{notice}"
    );
    client.send_message(&conversation, "c-4", "/skills").await;
    let notice = client.next_of("notice").await;
    assert!(
        notice["text"]
            .as_str()
            .unwrap_or_default()
            .contains("✓ zeta-skill – ZETA-DESC-123 does zeta things"),
        "{notice}"
    );
    assert_eq!(fake.request_count(), seen);

    // Uploaded while a turn of the owner is in flight (its workspace checked out for the runner): it
    // lands in that workspace, which goes back whole, and the next prompt has it.
    fake.push_behaviour(Behaviour::tool_calls([ToolCall::exec("sleep 4")]));
    let seen = fake.request_count();
    client
        .send_message(&conversation, "c-5", "wait a bit")
        .await;
    fake.wait_for_requests(seen + 1, REPLY_WAIT).await.unwrap();
    let active = data.path().join("agent/active").join(LOCAL_USER);
    assert!(active.is_dir(), "the turn is in flight");
    let (status, body) = put_skill(
        &app,
        "beta-skill",
        skill_md("beta-skill", "BETA-DESC-456", "beta"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(active.join("skills/beta-skill/SKILL.md").is_file());
    client.turn().await.content();
    let stored = data.path().join("workspaces").join(LOCAL_USER);
    assert!(stored.join("skills/beta-skill/SKILL.md").is_file());
    assert!(stored.join("skills/zeta-skill/SKILL.md").is_file());
    assert!(!active.exists());
    let system = web_turn(&mut client, &fake, &conversation, "c-6", "and now?").await;
    assert!(system.contains("<name>beta-skill</name>"), "{system}");

    // Disabled: gone from the prompt, files kept. Deleted: gone.
    let (status, body) = app
        .call(
            reqwest::Method::PATCH,
            "/api/skills/zeta-skill",
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!((status, &body["enabled"]), (200, &json!(false)), "{body}");
    let system = web_turn(&mut client, &fake, &conversation, "c-7", "again").await;
    assert!(!system.contains("<name>zeta-skill</name>"), "{system}");
    assert!(system.contains("<name>beta-skill</name>"), "{system}");
    assert!(stored.join("skills/zeta-skill/SKILL.md").is_file());
    let (status, _) = app
        .call(reqwest::Method::DELETE, "/api/skills/beta-skill", None)
        .await;
    assert_eq!(status, 204);
    let system = web_turn(&mut client, &fake, &conversation, "c-8", "once more").await;
    assert!(!system.contains("<name>beta-skill</name>"), "{system}");

    // A Telegram guest is another user: none of the owner's skills, enabled or not.
    let (status, _) = app
        .call(
            reqwest::Method::PATCH,
            "/api/skills/zeta-skill",
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(status, 200);
    let seen = fake.request_count();
    telegram.push_update(text_update(1, GUEST, "hello from a guest"));
    fake.wait_for_requests(seen + 1, REPLY_WAIT)
        .await
        .unwrap_or_else(|e| panic!("the guest's turn reaches the model: {e:?}"));
    let guest: Vec<RecordedRequest> = fake.requests().into_iter().skip(seen).collect();
    assert!(!guest.is_empty());
    for request in &guest {
        let system = system_of(request);
        assert!(
            system.contains("<available_skills>") || system.contains("## Skills"),
            "the guest's prompt lists skills (bundled ones): {system}"
        );
        assert!(!system.contains("zeta-skill"), "{system}");
    }
    telegram.push_update(text_update(2, GUEST, "/skill zeta-skill hi"));
    let refusal = telegram
        .wait_for_call(
            "sendMessage",
            |c| {
                c.body["chat_id"] == GUEST
                    && c.body["text"]
                        .as_str()
                        .is_some_and(|t| t.contains("no enabled skill"))
            },
            REPLY_WAIT,
        )
        .await;
    assert!(refusal.is_some(), "{:#?}", telegram.calls());

    polling.stop().await;
    app.stop().await;
}
