//! The fake LLM over real HTTP, checked the way OpenClaw's clients will read it.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use serverless_openclaw_testkit::fake_llm::{
    Api, Behaviour, DEFAULT_CHUNK_DELAY, FakeLlm, reply_text,
};

/// A three-message conversation whose content comes both as strings and as text blocks.
fn conversation() -> Value {
    json!([
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": [{"type": "text", "text": "first answer"}]},
        {"role": "user", "content": [{"type": "text", "text": "second question"}]},
    ])
}

fn anthropic_request(stream: bool) -> Value {
    json!({
        "model": "fake-claude",
        "max_tokens": 1024,
        "system": "You are a test.",
        "messages": conversation(),
        "stream": stream,
    })
}

fn openai_request(stream: bool, include_usage: bool) -> Value {
    let mut messages = vec![
        json!({"role": "system", "content": "You are a test."}),
        json!({"role": "developer", "content": "Be brief."}),
    ];
    messages.extend(conversation().as_array().cloned().unwrap_or_default());
    let mut request = json!({"model": "fake-gpt", "messages": messages, "stream": stream});
    if include_usage {
        request["stream_options"] = json!({"include_usage": true});
    }
    request
}

async fn post(url: String, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .header("x-api-key", "test-key")
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn anthropic(fake: &FakeLlm, body: &Value) -> reqwest::Response {
    post(format!("{}/v1/messages", fake.anthropic_base_url()), body).await
}

async fn openai(fake: &FakeLlm, body: &Value) -> reqwest::Response {
    post(format!("{}/chat/completions", fake.openai_base_url()), body).await
}

/// Server-sent events as (event name, data) pairs.
fn parse_sse(text: &str) -> Vec<(Option<String>, String)> {
    text.split("\n\n")
        .filter(|frame| !frame.trim().is_empty())
        .map(|frame| {
            let mut event = None;
            let mut data = String::new();
            for line in frame.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    event = Some(name.to_owned());
                } else if let Some(line) = line.strip_prefix("data: ") {
                    data.push_str(line);
                }
            }
            (event, data)
        })
        .collect()
}

#[tokio::test]
async fn the_base_urls_match_what_openclaw_providers_expect() {
    let fake = FakeLlm::start().await;
    assert!(fake.base_url().starts_with("http://127.0.0.1:"));
    assert_eq!(fake.anthropic_base_url(), fake.base_url());
    assert_eq!(fake.openai_base_url(), format!("{}/v1", fake.base_url()));
}

#[tokio::test]
async fn an_anthropic_stream_follows_the_messages_event_sequence_and_spells_the_reply() {
    let fake = FakeLlm::start().await;
    let started = Instant::now();
    let response = anthropic(&fake, &anthropic_request(true)).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let events = parse_sse(&response.text().await.unwrap());
    let elapsed = started.elapsed();

    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_deref().unwrap()).collect();
    let deltas = names
        .iter()
        .filter(|n| **n == "content_block_delta")
        .count();
    assert!(deltas >= 4, "only {deltas} deltas");
    let mut expected = vec!["message_start", "content_block_start", "ping"];
    expected.extend(std::iter::repeat_n("content_block_delta", deltas));
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names, expected);

    let data: Vec<Value> = events
        .iter()
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    for (name, value) in names.iter().zip(&data) {
        assert_eq!(value["type"], *name);
    }
    let start = &data[0]["message"];
    assert_eq!(start["role"], "assistant");
    assert_eq!(start["model"], "fake-claude");
    assert!(start["usage"]["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        data[1]["content_block"],
        json!({"type": "text", "text": ""})
    );

    let text: String = data
        .iter()
        .filter(|d| d["type"] == "content_block_delta")
        .map(|d| {
            assert_eq!(d["delta"]["type"], "text_delta");
            d["delta"]["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(text, reply_text(3, "second question"));
    assert_eq!(text, "Fake reply to \"second question\" after 3 messages.");

    let message_delta = &data[names.len() - 2];
    assert_eq!(message_delta["delta"]["stop_reason"], "end_turn");
    assert!(message_delta["usage"]["output_tokens"].as_u64().unwrap() > 0);
    // The deltas were paced, not sent in one burst.
    let paced = DEFAULT_CHUNK_DELAY * u32::try_from(deltas - 1).unwrap();
    assert!(elapsed >= paced, "{elapsed:?} < {paced:?}");
}

#[tokio::test]
async fn an_openai_stream_sends_content_chunks_a_stop_chunk_a_usage_chunk_and_done() {
    let fake = FakeLlm::start().await;
    fake.set_chunk_delay(Duration::ZERO);
    let response = openai(&fake, &openai_request(true, true)).await;
    assert_eq!(response.status(), 200);
    let events = parse_sse(&response.text().await.unwrap());

    assert!(events.iter().all(|(name, _)| name.is_none()));
    let (done, chunks) = events.split_last().unwrap();
    assert_eq!(done.1, "[DONE]");
    let chunks: Vec<Value> = chunks
        .iter()
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    for chunk in &chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], "fake-gpt");
        assert!(chunk["id"].is_string() && chunk["created"].is_u64());
    }

    let (usage, rest) = chunks.split_last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    let (prompt, completion) = (
        usage["usage"]["prompt_tokens"].as_u64().unwrap(),
        usage["usage"]["completion_tokens"].as_u64().unwrap(),
    );
    assert!(prompt > 0 && completion > 0);
    assert_eq!(usage["usage"]["total_tokens"], prompt + completion);

    let (stop, content) = rest.split_last().unwrap();
    assert_eq!(stop["choices"][0]["finish_reason"], "stop");
    assert_eq!(stop["choices"][0]["delta"], json!({}));
    assert_eq!(content[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(content.len() >= 5, "role chunk plus at least 4 deltas");
    let text: String = content
        .iter()
        .map(|c| {
            assert_eq!(c["choices"][0]["finish_reason"], Value::Null);
            c["choices"][0]["delta"]["content"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    // System and developer messages are not counted.
    assert_eq!(text, reply_text(3, "second question"));
}

#[tokio::test]
async fn an_openai_stream_without_include_usage_has_no_usage_chunk() {
    let fake = FakeLlm::start().await;
    fake.set_chunk_delay(Duration::ZERO);
    let response = openai(&fake, &openai_request(true, false)).await;
    let events = parse_sse(&response.text().await.unwrap());
    let (done, chunks) = events.split_last().unwrap();
    assert_eq!(done.1, "[DONE]");
    let last: Value = serde_json::from_str(&chunks.last().unwrap().1).unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert!(last.get("usage").is_none());
}

#[tokio::test]
async fn requests_without_stream_get_one_whole_message_in_both_apis() {
    let fake = FakeLlm::start().await;
    let expected = reply_text(3, "second question");

    let message: Value = anthropic(&fake, &anthropic_request(false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(message["type"], "message");
    assert_eq!(message["content"][0]["text"], expected.as_str());
    assert_eq!(message["stop_reason"], "end_turn");

    let completion: Value = openai(&fake, &openai_request(false, false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(completion["object"], "chat.completion");
    assert_eq!(
        completion["choices"][0]["message"]["content"],
        expected.as_str()
    );
    assert_eq!(completion["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn status_500_gets_an_error_body_in_each_apis_format() {
    let fake = FakeLlm::start().await;
    fake.set_behaviour(Behaviour::Status(500));

    let response = anthropic(&fake, &anthropic_request(true)).await;
    assert_eq!(response.status(), 500);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "api_error");
    assert!(body["error"]["message"].is_string());

    let response = openai(&fake, &openai_request(true, true)).await;
    assert_eq!(response.status(), 500);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "server_error");
    assert!(body["error"]["message"].is_string());
}

#[tokio::test]
async fn status_429_carries_retry_after_and_a_rate_limit_error() {
    let fake = FakeLlm::start().await;
    fake.set_behaviour(Behaviour::Status(429));

    let response = anthropic(&fake, &anthropic_request(true)).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error");

    let response = openai(&fake, &openai_request(true, true)).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
}

#[tokio::test]
async fn a_hanging_request_gets_no_answer_within_300_ms() {
    let fake = FakeLlm::start().await;
    fake.set_behaviour(Behaviour::Hang);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let error = client
        .post(format!("{}/v1/messages", fake.anthropic_base_url()))
        .json(&anthropic_request(true))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn a_hanging_request_is_answered_503_when_the_server_shuts_down() {
    let fake = FakeLlm::start().await;
    fake.set_behaviour(Behaviour::Hang);
    let url = format!("{}/chat/completions", fake.openai_base_url());
    let pending = tokio::spawn(async move { post(url, &openai_request(true, true)).await });
    fake.wait_for_requests(1, Duration::from_secs(5))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), fake.shutdown())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pending.await.unwrap().status(), 503);
}

#[tokio::test]
async fn a_delay_holds_back_the_first_byte() {
    let fake = FakeLlm::start().await;
    fake.set_delay(Duration::from_millis(200));
    let started = Instant::now();
    let response = anthropic(&fake, &anthropic_request(false)).await;
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn every_request_is_recorded_with_its_path_headers_and_body() {
    let fake = FakeLlm::start().await;
    anthropic(&fake, &anthropic_request(false)).await;
    reqwest::Client::new()
        .post(format!("{}/chat/completions", fake.openai_base_url()))
        .bearer_auth("sk-bearer")
        .json(&openai_request(false, false))
        .send()
        .await
        .unwrap();

    let requests = fake
        .wait_for_requests(2, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(fake.request_count(), 2);
    let (first, second) = (&requests[0], &requests[1]);

    assert_eq!(first.api, Api::AnthropicMessages);
    assert_eq!(first.path, "/v1/messages");
    assert_eq!(first.api_key(), Some("test-key"));
    assert_eq!(first.body, anthropic_request(false));
    assert_eq!(first.message_count(), 3);
    assert_eq!(first.last_user_text().as_deref(), Some("second question"));

    assert_eq!(second.api, Api::OpenAiCompletions);
    assert_eq!(second.path, "/v1/chat/completions");
    assert_eq!(second.api_key(), Some("sk-bearer"));
    assert_eq!(second.body["model"], "fake-gpt");
    assert_eq!(second.message_count(), 3);
    assert_eq!(second.expected_reply(), reply_text(3, "second question"));
}

#[tokio::test]
async fn queued_behaviours_are_used_in_order_before_the_default() {
    let fake = FakeLlm::start().await;
    fake.push_behaviour(Behaviour::Status(500));
    fake.push_behaviour(Behaviour::Text("a fixed answer".to_owned()));

    let statuses_and_texts = [
        anthropic(&fake, &anthropic_request(false)).await,
        anthropic(&fake, &anthropic_request(false)).await,
        anthropic(&fake, &anthropic_request(false)).await,
    ];
    let mut seen = Vec::new();
    for response in statuses_and_texts {
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        seen.push((
            status,
            body["content"][0]["text"].as_str().map(str::to_owned),
        ));
    }
    assert_eq!(
        seen,
        [
            (500, None),
            (200, Some("a fixed answer".to_owned())),
            (200, Some(reply_text(3, "second question"))),
        ]
    );
}

#[tokio::test]
async fn a_body_that_is_not_json_gets_a_400_without_using_up_the_queue() {
    let fake = FakeLlm::start().await;
    fake.push_behaviour(Behaviour::Status(429));
    let response = reqwest::Client::new()
        .post(format!("{}/v1/messages", fake.anthropic_base_url()))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(fake.requests()[0].body, Value::Null);

    let response = anthropic(&fake, &anthropic_request(false)).await;
    assert_eq!(response.status(), 429);
}

#[tokio::test]
async fn waiting_for_more_requests_than_arrive_times_out_with_the_count_so_far() {
    let fake = FakeLlm::start().await;
    anthropic(&fake, &anthropic_request(false)).await;
    let error = fake
        .wait_for_requests(2, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert_eq!((error.wanted, error.got), (2, 1));
}
