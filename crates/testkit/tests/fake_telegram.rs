//! The fake Telegram Bot API over real HTTP, called the way the bot calls it: JSON posted to
//! `{base_url}/bot{token}/{method}`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use serverless_openclaw_testkit::fake_telegram::{
    Failure, FakeTelegram, SentMessage, Webhook, text_update,
};

const CHAT: i64 = 42;
const WAIT: Duration = Duration::from_secs(5);

async fn start() -> FakeTelegram {
    FakeTelegram::start()
        .await
        .expect("start the fake Telegram")
}

/// Posts `body` to a method with the right token; returns the HTTP status and the JSON answer.
async fn call(fake: &FakeTelegram, method: &str, body: Value) -> (u16, Value) {
    let url = format!("{}/bot{}/{method}", fake.base_url(), fake.token());
    post(&url, body).await
}

async fn post(url: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("the fake answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON answer"))
}

async fn send(fake: &FakeTelegram, text: &str, parse_mode: Option<&str>) -> (u16, Value) {
    let mut body = json!({"chat_id": CHAT, "text": text});
    if let Some(parse_mode) = parse_mode {
        body["parse_mode"] = json!(parse_mode);
    }
    call(fake, "sendMessage", body).await
}

async fn send_html(fake: &FakeTelegram, html: &str) -> (u16, Value) {
    send(fake, html, Some("HTML")).await
}

/// The update ids of a successful `getUpdates` answer.
fn update_ids(answer: &(u16, Value)) -> Vec<i64> {
    assert_eq!(answer.0, 200, "{}", answer.1);
    answer.1["result"]
        .as_array()
        .expect("a list of updates")
        .iter()
        .map(|update| update["update_id"].as_i64().expect("an update_id"))
        .collect()
}

fn assert_bad_request(answer: &(u16, Value), description: &str) {
    assert_eq!(answer.0, 400, "{}", answer.1);
    assert_eq!(
        answer.1,
        json!({"ok": false, "error_code": 400, "description": description})
    );
}

fn assert_cant_parse_entities(answer: &(u16, Value)) {
    assert_eq!(answer.0, 400, "{}", answer.1);
    let description = answer.1["description"].as_str().unwrap_or_default();
    assert!(
        description.starts_with("Bad Request: can't parse entities: "),
        "{description}"
    );
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized_and_an_unknown_method_not_found() {
    let fake = start().await;

    let wrong = format!("{}/bot123456789:wrong/getMe", fake.base_url());
    let unauthorized = post(&wrong, json!({})).await;
    let unknown = call(&fake, "sendTelepathy", json!({})).await;

    assert_eq!(
        unauthorized,
        (
            401,
            json!({"ok": false, "error_code": 401, "description": "Unauthorized"})
        )
    );
    assert_eq!(
        unknown,
        (
            404,
            json!({"ok": false, "error_code": 404, "description": "Not Found"})
        )
    );
    let statuses: Vec<(String, u16)> = fake
        .calls()
        .into_iter()
        .map(|call| (call.method, call.status))
        .collect();
    assert_eq!(
        statuses,
        [("getMe".to_owned(), 401), ("sendTelepathy".to_owned(), 404)]
    );
}

#[tokio::test]
async fn get_me_returns_the_bot() {
    let fake = start().await;

    let (status, answer) = call(&fake, "getMe", json!({})).await;

    assert_eq!(status, 200);
    assert_eq!(answer["ok"], true);
    assert_eq!(answer["result"]["id"], fake.bot_id());
    assert_eq!(answer["result"]["is_bot"], true);
    assert_eq!(fake.token().split(':').next(), Some("123456789"));
}

#[tokio::test]
async fn a_body_that_is_not_a_json_object_is_a_bad_request() {
    let fake = start().await;

    let list = call(&fake, "sendMessage", json!([CHAT, "hi"])).await;
    let url = format!("{}/bot{}/sendMessage", fake.base_url(), fake.token());
    let form = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("chat_id=42&text=hi")
        .send()
        .await
        .unwrap();

    assert_eq!(list.0, 400, "{}", list.1);
    assert_eq!(form.status().as_u16(), 400);
    assert!(fake.chat(CHAT).is_empty());
}

#[tokio::test]
async fn get_updates_returns_pending_updates_and_forgets_those_below_the_offset() {
    let fake = start().await;
    // Built once: `text_update` stamps the current second as the message date.
    let one = text_update(1, CHAT, "one");
    let first = fake.push_update(one.clone());
    let second = fake.push_update(json!({"message": {"text": "two"}}));
    let third = fake.push_update(json!({"message": {"text": "three"}}));
    assert_eq!((first, second, third), (1, 2, 3));

    let all = call(&fake, "getUpdates", json!({})).await;
    let limited = call(&fake, "getUpdates", json!({"limit": 2})).await;
    let after_first = call(&fake, "getUpdates", json!({"offset": 2})).await;
    let again_from_start = call(&fake, "getUpdates", json!({"offset": 0})).await;

    assert_eq!(update_ids(&all), [1, 2, 3]);
    assert_eq!(all.1["result"][0], one);
    assert_eq!(update_ids(&limited), [1, 2]);
    assert_eq!(update_ids(&after_first), [2, 3]);
    assert_eq!(
        update_ids(&again_from_start),
        [2, 3],
        "update 1 was confirmed by offset 2 and is gone for good"
    );
}

#[tokio::test]
async fn a_negative_offset_keeps_only_the_latest_updates() {
    let fake = start().await;
    for text in ["one", "two", "three"] {
        fake.push_update(json!({"message": {"text": text}}));
    }

    let last = call(&fake, "getUpdates", json!({"offset": -1})).await;
    let after = call(&fake, "getUpdates", json!({})).await;

    assert_eq!(update_ids(&last), [3]);
    assert_eq!(update_ids(&after), [3]);
}

#[tokio::test]
async fn a_long_poll_wakes_up_as_soon_as_an_update_is_pushed() {
    let fake = start().await;
    let started = Instant::now();

    let poll = call(&fake, "getUpdates", json!({"offset": 1, "timeout": 30}));
    let push = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        fake.push_update(text_update(7, CHAT, "/start"))
    };
    let (answer, pushed) = tokio::join!(poll, push);

    assert_eq!(update_ids(&answer), [pushed]);
    assert!(started.elapsed() < WAIT, "took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_long_poll_without_updates_returns_an_empty_list_after_its_timeout() {
    let fake = start().await;
    let started = Instant::now();

    let answer = call(&fake, "getUpdates", json!({"timeout": 1})).await;

    assert_eq!(answer, (200, json!({"ok": true, "result": []})));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(1) && waited < WAIT,
        "waited {waited:?}"
    );
}

#[tokio::test]
async fn dropping_the_fake_ends_a_long_poll() {
    let fake = start().await;
    let url = format!("{}/bot{}/getUpdates", fake.base_url(), fake.token());
    let poll = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .json(&json!({"timeout": 60}))
            .send()
            .await
    });
    // The call is only recorded when answered, so give it a moment to reach the server.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();

    drop(fake);
    let answer = tokio::time::timeout(WAIT, poll).await;

    assert!(
        answer.is_ok(),
        "the long poll still hangs {:?} after the drop",
        started.elapsed()
    );
}

#[tokio::test]
async fn get_updates_conflicts_with_a_webhook_until_it_is_deleted() {
    let fake = start().await;
    fake.push_update(text_update(1, CHAT, "hello"));
    let set = call(
        &fake,
        "setWebhook",
        json!({"url": "https://bot.example.com/telegram"}),
    )
    .await;
    assert_eq!(set, (200, json!({"ok": true, "result": true})));

    let conflict = call(&fake, "getUpdates", json!({})).await;
    let deleted = call(&fake, "deleteWebhook", json!({})).await;
    let polled = call(&fake, "getUpdates", json!({})).await;

    assert_eq!(conflict.0, 409);
    assert_eq!(
        conflict.1["description"],
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to \
         delete the webhook first"
    );
    assert_eq!(deleted, (200, json!({"ok": true, "result": true})));
    assert_eq!(fake.webhook(), None);
    assert_eq!(update_ids(&polled), [1]);
}

#[tokio::test]
async fn delete_webhook_can_drop_pending_updates() {
    let fake = start().await;
    fake.push_update(text_update(1, CHAT, "stale"));

    call(
        &fake,
        "deleteWebhook",
        json!({"drop_pending_updates": true}),
    )
    .await;
    let polled = call(&fake, "getUpdates", json!({})).await;

    assert_eq!(polled, (200, json!({"ok": true, "result": []})));
}

#[tokio::test]
async fn set_webhook_wants_https_and_a_well_formed_secret_and_stores_the_webhook() {
    let fake = start().await;

    let plain_http = call(
        &fake,
        "setWebhook",
        json!({"url": "http://bot.example.com"}),
    )
    .await;
    let no_url = call(&fake, "setWebhook", json!({})).await;
    let bad_secret = call(
        &fake,
        "setWebhook",
        json!({"url": "https://bot.example.com", "secret_token": "not allowed!"}),
    )
    .await;
    let long_secret = call(
        &fake,
        "setWebhook",
        json!({"url": "https://bot.example.com", "secret_token": "a".repeat(257)}),
    )
    .await;
    assert_eq!(fake.webhook(), None, "a rejected webhook is not stored");
    let ok = call(
        &fake,
        "setWebhook",
        json!({
            "url": "https://bot.example.com/telegram",
            "secret_token": "s3cret_-token",
            "allowed_updates": ["message", "callback_query"],
        }),
    )
    .await;

    let https_required = "Bad Request: bad webhook: An HTTPS URL must be provided for webhook";
    assert_bad_request(&plain_http, https_required);
    assert_bad_request(&no_url, https_required);
    assert_eq!(bad_secret.0, 400);
    assert_eq!(long_secret.0, 400);
    assert_eq!(ok.0, 200);
    assert_eq!(
        fake.webhook(),
        Some(Webhook {
            url: "https://bot.example.com/telegram".to_owned(),
            secret_token: Some("s3cret_-token".to_owned()),
            allowed_updates: Some(vec!["message".to_owned(), "callback_query".to_owned()]),
        })
    );
}

#[tokio::test]
async fn sent_messages_appear_in_the_chat_view_in_order() {
    let fake = start().await;

    let (status, first) = send(&fake, "plain", None).await;
    let (_, second) = send_html(&fake, "<b>bold</b> &amp; more").await;
    call(
        &fake,
        "sendMessage",
        json!({"chat_id": 7, "text": "elsewhere"}),
    )
    .await;

    assert_eq!(status, 200);
    assert_eq!(first["result"]["message_id"], 1);
    assert_eq!(
        first["result"]["chat"],
        json!({"id": CHAT, "type": "private"})
    );
    assert_eq!(first["result"]["from"]["id"], fake.bot_id());
    assert_eq!(first["result"]["from"]["is_bot"], true);
    assert_eq!(second["result"]["message_id"], 2);
    assert_eq!(
        second["result"]["text"], "bold & more",
        "Telegram returns the visible text"
    );
    assert_eq!(
        fake.chat(CHAT),
        [
            SentMessage {
                message_id: 1,
                text: "plain".to_owned(),
                parse_mode: None,
                edits: 0,
                reply_markup: None,
            },
            SentMessage {
                message_id: 2,
                text: "<b>bold</b> &amp; more".to_owned(),
                parse_mode: Some("HTML".to_owned()),
                edits: 0,
                reply_markup: None,
            },
        ]
    );
    assert_eq!(fake.chat(7).len(), 1);
    assert!(fake.chat(8).is_empty());
}

#[tokio::test]
async fn an_empty_text_is_rejected() {
    let fake = start().await;

    let missing = call(&fake, "sendMessage", json!({"chat_id": CHAT})).await;
    let blank = send(&fake, "  \n", None).await;
    let only_tags = send_html(&fake, "<b></b>").await;

    for answer in [missing, blank, only_tags] {
        assert_bad_request(&answer, "Bad Request: message text is empty");
    }
    assert!(fake.chat(CHAT).is_empty());
}

#[tokio::test]
async fn edit_message_text_updates_the_text_and_counts_edits() {
    let fake = start().await;
    let (_, sent) = send(&fake, "Thinking…", None).await;
    let message_id = sent["result"]["message_id"].as_i64().unwrap();
    let edit = |text: &str, parse_mode: Option<&str>| {
        let mut body = json!({"chat_id": CHAT, "message_id": message_id, "text": text});
        if let Some(parse_mode) = parse_mode {
            body["parse_mode"] = json!(parse_mode);
        }
        call(&fake, "editMessageText", body)
    };

    let first = edit("Half an answer", None).await;
    let second = edit("<b>The</b> answer", Some("HTML")).await;
    let unchanged = edit("<b>The</b> answer", Some("HTML")).await;
    let invalid = edit("<b>The answer", Some("HTML")).await;

    assert_eq!(first.0, 200, "{}", first.1);
    assert_eq!(second.1["result"]["message_id"], message_id);
    assert_eq!(second.1["result"]["text"], "The answer");
    assert_bad_request(
        &unchanged,
        "Bad Request: message is not modified: specified new message content and reply markup \
         are exactly the same as a current content and reply markup of the message",
    );
    assert_cant_parse_entities(&invalid);
    assert_eq!(
        fake.chat(CHAT),
        [SentMessage {
            message_id,
            text: "<b>The</b> answer".to_owned(),
            parse_mode: Some("HTML".to_owned()),
            edits: 2,
            reply_markup: None,
        }]
    );
}

#[tokio::test]
async fn inline_keyboards_are_checked_kept_by_edits_that_repeat_them_and_removed_otherwise() {
    let fake = start().await;
    let keyboard =
        |data: &str| json!({"inline_keyboard": [[{"text": "Stop", "callback_data": data}]]});
    let with =
        |text: &str, markup: Value| json!({"chat_id": CHAT, "text": text, "reply_markup": markup});
    let (status, sent) = call(&fake, "sendMessage", with("working", keyboard("stop:c1"))).await;
    assert_eq!(status, 200, "{sent}");
    let message_id = sent["result"]["message_id"].as_i64().unwrap();
    let too_long = call(&fake, "sendMessage", with("x", keyboard(&"d".repeat(65)))).await;
    assert_bad_request(&too_long, "Bad Request: BUTTON_DATA_INVALID");
    let empty = call(&fake, "sendMessage", with("x", keyboard(""))).await;
    assert_bad_request(&empty, "Bad Request: BUTTON_DATA_INVALID");

    let mut edit = with("still working", keyboard("stop:c1"));
    edit["message_id"] = json!(message_id);
    assert_eq!(call(&fake, "editMessageText", edit).await.0, 200);
    assert_eq!(fake.chat(CHAT)[0].reply_markup, Some(keyboard("stop:c1")));
    let done = json!({"chat_id": CHAT, "message_id": message_id, "text": "done"});
    assert_eq!(call(&fake, "editMessageText", done).await.0, 200);
    assert_eq!(fake.chat(CHAT)[0].reply_markup, None);
    let unchanged = call(
        &fake,
        "editMessageReplyMarkup",
        json!({"chat_id": CHAT, "message_id": message_id}),
    )
    .await;
    assert_bad_request(
        &unchanged,
        "Bad Request: message is not modified: specified new message content and reply markup \
         are exactly the same as a current content and reply markup of the message",
    );
}

#[tokio::test]
async fn the_menu_reactions_and_callback_answers_are_recorded_and_checked() {
    let fake = start().await;
    let bad_name = call(
        &fake,
        "setMyCommands",
        json!({"commands": [{"command": "Stop", "description": "stop"}]}),
    )
    .await;
    assert_bad_request(&bad_name, "Bad Request: BOT_COMMAND_INVALID");
    assert_eq!(fake.menu(), None);
    let menu = json!({"commands": [{"command": "stop", "description": "stop the answer"}]});
    assert_eq!(call(&fake, "setMyCommands", menu).await.0, 200);
    assert_eq!(fake.menu().unwrap()[0].command, "stop");

    let react =
        json!({"chat_id": CHAT, "message_id": 7, "reaction": [{"type": "emoji", "emoji": "👀"}]});
    assert_eq!(call(&fake, "setMessageReaction", react).await.0, 200);
    assert_eq!(fake.reactions(CHAT, 7), ["👀"]);
    assert!(fake.reactions(CHAT, 8).is_empty());

    let answer = json!({"callback_query_id": "cb-1", "text": "Stopping."});
    assert_eq!(
        call(&fake, "answerCallbackQuery", answer.clone()).await.0,
        200
    );
    let again = call(&fake, "answerCallbackQuery", answer).await;
    assert_bad_request(
        &again,
        "Bad Request: query is too old and response timeout expired or query ID is invalid",
    );
    let long = json!({"callback_query_id": "cb-2", "text": "x".repeat(201)});
    assert_bad_request(
        &call(&fake, "answerCallbackQuery", long).await,
        "Bad Request: MESSAGE_TOO_LONG",
    );
    assert_eq!(fake.callback_answers().len(), 1);
    assert_eq!(
        fake.callback_answers()[0].text.as_deref(),
        Some("Stopping.")
    );
}

#[tokio::test]
async fn editing_an_unknown_message_is_not_found() {
    let fake = start().await;
    send(&fake, "mine", None).await;

    let wrong_id = call(
        &fake,
        "editMessageText",
        json!({"chat_id": CHAT, "message_id": 99, "text": "x"}),
    )
    .await;
    let wrong_chat = call(
        &fake,
        "editMessageText",
        json!({"chat_id": CHAT + 1, "message_id": 1, "text": "x"}),
    )
    .await;

    for answer in [wrong_id, wrong_chat] {
        assert_bad_request(&answer, "Bad Request: message to edit not found");
    }
}

#[tokio::test]
async fn telegram_html_passes_when_well_formed() {
    let fake = start().await;
    let valid = [
        "<b>bold <i>italic <u>under</u></i></b> <s>gone</s> <code>x &lt; y</code>",
        "<strong>1</strong><em>2</em><ins>3</ins><strike>4</strike><del>5</del>",
        "<pre><code class=\"language-rust\">fn main() {}</code></pre>",
        "<a href=\"https://example.com/?a=1&amp;b=2\">link</a>",
        "<span class=\"tg-spoiler\">secret</span> <tg-spoiler>too</tg-spoiler>",
        "<blockquote expandable>quoted</blockquote>",
        "&lt;b&gt; is escaped, &quot;&#65;&#x42;&quot; too",
    ];

    for html in valid {
        let answer = send_html(&fake, html).await;
        assert_eq!(answer.0, 200, "{html}: {}", answer.1);
    }

    assert_eq!(fake.chat(CHAT).len(), valid.len());
}

#[tokio::test]
async fn malformed_telegram_html_cannot_be_parsed() {
    let fake = start().await;

    let script = send_html(&fake, "<script>alert(1)</script>").await;
    let unclosed = send_html(&fake, "<b>bold").await;
    let mismatched = send_html(&fake, "<b><i>x</b></i>").await;
    let bare_ampersand = send_html(&fake, "Tom & Jerry").await;
    let bare_less_than = send_html(&fake, "1 < 2").await;

    assert_bad_request(
        &script,
        "Bad Request: can't parse entities: Unsupported start tag \"script\" at byte offset 0",
    );
    assert_bad_request(
        &unclosed,
        "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\"",
    );
    assert_cant_parse_entities(&mismatched);
    assert_bad_request(
        &bare_ampersand,
        "Bad Request: can't parse entities: Unescaped \"&\" at byte offset 4",
    );
    assert_cant_parse_entities(&bare_less_than);
    assert!(fake.chat(CHAT).is_empty(), "nothing was sent");
}

#[tokio::test]
async fn only_the_html_parse_mode_is_accepted() {
    let fake = start().await;

    let markdown = send(&fake, "*bold*", Some("MarkdownV2")).await;

    assert_bad_request(&markdown, "Bad Request: unsupported parse_mode");
}

#[tokio::test]
async fn the_length_limit_counts_utf16_units_of_the_visible_text() {
    let fake = start().await;
    let too_long = "Bad Request: message is too long";

    let ascii_max = send(&fake, &"a".repeat(4096), None).await;
    let ascii_over = send(&fake, &"a".repeat(4097), None).await;
    // Each 😀 is two UTF-16 code units (a surrogate pair) and four UTF-8 bytes.
    let emoji_max = send(&fake, &"😀".repeat(2048), None).await;
    let emoji_over = send(&fake, &"😀".repeat(2049), None).await;
    let tags_free = send_html(&fake, &format!("<b>{}</b>", "a".repeat(4096))).await;
    let entity_is_one = send_html(&fake, &format!("{}&amp;", "a".repeat(4095))).await;
    let entity_over = send_html(&fake, &format!("{}&amp;", "a".repeat(4096))).await;

    assert_eq!(ascii_max.0, 200);
    assert_bad_request(&ascii_over, too_long);
    assert_eq!(emoji_max.0, 200);
    assert_bad_request(&emoji_over, too_long);
    assert_eq!(tags_free.0, 200, "tags do not count");
    assert_eq!(entity_is_one.0, 200, "an entity counts as its character");
    assert_bad_request(&entity_over, too_long);
}

#[tokio::test]
async fn send_chat_action_accepts_only_known_actions() {
    let fake = start().await;

    let typing = call(
        &fake,
        "sendChatAction",
        json!({"chat_id": CHAT, "action": "typing"}),
    )
    .await;
    let dancing = call(
        &fake,
        "sendChatAction",
        json!({"chat_id": CHAT, "action": "dancing"}),
    )
    .await;

    assert_eq!(typing, (200, json!({"ok": true, "result": true})));
    assert_eq!(dancing.0, 400);
}

#[tokio::test]
async fn injected_failures_are_served_in_order_and_change_nothing() {
    let fake = start().await;
    fake.fail_next("sendMessage", Failure::EntityParse);
    fake.fail_next("sendMessage", Failure::TooManyRequests { retry_after: 3 });
    fake.fail_next(
        "sendMessage",
        Failure::Status {
            code: 502,
            description: "Bad Gateway".to_owned(),
        },
    );

    let entity_parse = send(&fake, "fine text", None).await;
    let flood = send(&fake, "fine text", None).await;
    let gateway = send(&fake, "fine text", None).await;
    let through = send(&fake, "fine text", None).await;

    assert_bad_request(
        &entity_parse,
        "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0",
    );
    assert_eq!(
        flood,
        (
            429,
            json!({
                "ok": false,
                "error_code": 429,
                "description": "Too Many Requests: retry after 3",
                "parameters": {"retry_after": 3},
            })
        )
    );
    assert_eq!(
        gateway,
        (
            502,
            json!({"ok": false, "error_code": 502, "description": "Bad Gateway"})
        )
    );
    assert_eq!(through.0, 200);
    assert_eq!(
        through.1["result"]["message_id"], 1,
        "failures sent nothing"
    );
    assert_eq!(fake.chat(CHAT).len(), 1);
    let statuses: Vec<u16> = fake
        .calls_of("sendMessage")
        .iter()
        .map(|call| call.status)
        .collect();
    assert_eq!(statuses, [400, 429, 502, 200]);
}

#[tokio::test]
async fn an_injected_failure_is_kept_for_its_method() {
    let fake = start().await;
    fake.fail_next(
        "editMessageText",
        Failure::TooManyRequests { retry_after: 1 },
    );

    let sent = send(&fake, "hello", None).await;

    assert_eq!(sent.0, 200);
    assert_eq!(fake.calls_of("editMessageText"), []);
}

#[tokio::test]
async fn wait_for_call_sees_past_and_future_calls_and_gives_up_after_its_timeout() {
    let fake = start().await;
    send(&fake, "first", None).await;

    let past = fake
        .wait_for_call("sendMessage", |call| call.body["text"] == "first", WAIT)
        .await;
    let (future, ()) = tokio::join!(
        fake.wait_for_call("sendMessage", |call| call.body["text"] == "second", WAIT),
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            send(&fake, "second", None).await;
        }
    );
    let started = Instant::now();
    let never = fake
        .wait_for_call("sendMessage", |_| false, Duration::from_millis(200))
        .await;

    assert_eq!(past.map(|call| call.status), Some(200));
    let future = future.expect("the second message is seen");
    assert_eq!(future.body, json!({"chat_id": CHAT, "text": "second"}));
    assert_eq!(never, None);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn calls_are_listed_in_arrival_order_even_when_a_long_poll_ends_last() {
    let fake = start().await;

    let poll = call(&fake, "getUpdates", json!({"timeout": 1}));
    let later = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        send(&fake, "meanwhile", None).await
    };
    tokio::join!(poll, later);

    let methods: Vec<String> = fake.calls().into_iter().map(|call| call.method).collect();
    assert_eq!(methods, ["getUpdates", "sendMessage"]);
}

#[test]
fn a_text_update_looks_like_a_private_message_from_telegram() {
    let command = text_update(5, 1001, "/start now");
    let plain = text_update(6, 1001, "hello");

    let message = &command["message"];
    assert_eq!(command["update_id"], 5);
    assert_eq!(message["chat"]["id"], 1001);
    assert_eq!(message["chat"]["type"], "private");
    assert_eq!(message["from"]["id"], 1001);
    assert_eq!(message["from"]["is_bot"], false);
    assert_eq!(message["text"], "/start now");
    assert_eq!(
        message["entities"],
        json!([{"type": "bot_command", "offset": 0, "length": 6}])
    );
    assert!(plain["message"].get("entities").is_none());
}
