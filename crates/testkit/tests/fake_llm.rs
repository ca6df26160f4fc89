//! The fake LLM over real HTTP, checked the way OpenClaw's clients will read it.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use serverless_openclaw_testkit::fake_llm::{
    Api, Behaviour, DEFAULT_CHUNK_DELAY, FakeLlm, ToolCall, ToolResult, reply_text,
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

/// Two calls whose inputs are long enough to arrive in several pieces.
fn two_tool_calls() -> Vec<ToolCall> {
    vec![
        ToolCall::exec("echo tool-ran-$((6*7)) && printf 'ünïcode \"quoted\"\\n'"),
        ToolCall::new(
            "read",
            json!({"path": "notes/today.md", "offset": 3, "limit": null}),
        ),
    ]
}

/// Whether `id` is `prefix` followed by the characters OpenClaw accepts in a native id of that API.
fn is_tool_call_id(id: &str, prefix: &str, extra: &[char]) -> bool {
    id.strip_prefix(prefix).is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || extra.contains(&c))
    })
}

async fn sse_data(response: reqwest::Response) -> Vec<(Option<String>, Value)> {
    parse_sse(&response.text().await.unwrap())
        .into_iter()
        .map(|(name, data)| {
            let data = serde_json::from_str(&data).unwrap_or(Value::String(data));
            (name, data)
        })
        .collect()
}

#[tokio::test]
async fn an_anthropic_tool_call_streams_tool_use_blocks_after_the_text_and_stops_for_tool_use() {
    let fake = FakeLlm::start().await;
    fake.set_chunk_delay(Duration::ZERO);
    fake.push_behaviour(Behaviour::ToolCalls {
        text: "Let me look.".to_owned(),
        calls: two_tool_calls(),
    });
    let events = sse_data(anthropic(&fake, &anthropic_request(true)).await).await;
    for (name, data) in &events {
        assert_eq!(data["type"], name.as_deref().unwrap());
    }
    let kinds: Vec<&str> = events
        .iter()
        .map(|(_, d)| d["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[..3], ["message_start", "content_block_start", "ping"]);
    assert_eq!(kinds[kinds.len() - 2..], ["message_delta", "message_stop"]);

    // The blocks in order, each opened, filled by deltas of its own index and closed.
    let mut blocks: Vec<(Value, Vec<Value>)> = Vec::new();
    let mut open = None;
    for (_, data) in &events[1..events.len() - 2] {
        match data["type"].as_str().unwrap() {
            "content_block_start" => {
                assert_eq!(open, None, "a block opened inside another");
                assert_eq!(data["index"], blocks.len());
                open = Some(blocks.len());
                blocks.push((data["content_block"].clone(), Vec::new()));
            }
            "content_block_delta" => {
                assert_eq!(data["index"].as_u64(), open.map(|i| i as u64));
                blocks.last_mut().unwrap().1.push(data["delta"].clone());
            }
            "content_block_stop" => {
                assert_eq!(data["index"].as_u64(), open.map(|i| i as u64));
                open = None;
            }
            "ping" => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(blocks.len(), 3);

    let (text_block, text_deltas) = &blocks[0];
    assert_eq!(*text_block, json!({"type": "text", "text": ""}));
    let text: String = text_deltas
        .iter()
        .map(|d| {
            assert_eq!(d["type"], "text_delta");
            d["text"].as_str().unwrap()
        })
        .collect();
    assert_eq!(text, "Let me look.");

    let mut ids = Vec::new();
    for ((block, deltas), call) in blocks[1..].iter().zip(two_tool_calls()) {
        assert_eq!(block["type"], "tool_use");
        assert_eq!(block["name"], call.name.as_str());
        assert_eq!(block["input"], json!({}));
        let id = block["id"].as_str().unwrap();
        assert!(is_tool_call_id(id, "toolu_", &[]), "{id}");
        ids.push(id.to_owned());
        assert!(deltas.iter().all(|d| d["type"] == "input_json_delta"));
        assert_eq!(
            deltas[0]["partial_json"], "",
            "the real API opens with an empty piece"
        );
        assert!(deltas.len() >= 3, "the input comes in pieces: {deltas:?}");
        let json: String = deltas
            .iter()
            .map(|d| d["partial_json"].as_str().unwrap())
            .collect();
        assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), call.input);
    }
    assert_ne!(ids[0], ids[1]);

    let message_delta = &events[events.len() - 2].1;
    assert_eq!(message_delta["delta"]["stop_reason"], "tool_use");
    assert!(message_delta["usage"]["output_tokens"].as_u64().unwrap() > 1);

    // The queued tool calls were for one request: the next gets the default reply, and a second
    // scripted call gets ids of its own.
    let events = sse_data(anthropic(&fake, &anthropic_request(true)).await).await;
    assert_eq!(
        events[events.len() - 2].1["delta"]["stop_reason"],
        "end_turn"
    );
    fake.push_behaviour(Behaviour::tool_calls([ToolCall::exec("true")]));
    let events = sse_data(anthropic(&fake, &anthropic_request(true)).await).await;
    let block = &events[1].1["content_block"];
    assert_eq!(
        block["type"], "tool_use",
        "no text block before a bare tool call"
    );
    assert!(!ids.contains(&block["id"].as_str().unwrap().to_owned()));
}

#[tokio::test]
async fn an_openai_tool_call_streams_tool_calls_deltas_and_finishes_with_tool_calls() {
    let fake = FakeLlm::start().await;
    fake.set_chunk_delay(Duration::ZERO);
    fake.push_behaviour(Behaviour::tool_calls(two_tool_calls()));
    let events = sse_data(openai(&fake, &openai_request(true, true)).await).await;
    let (done, chunks) = events.split_last().unwrap();
    assert_eq!(done.1, "[DONE]");
    let (usage, chunks) = chunks.split_last().unwrap();
    assert!(usage.1["usage"]["completion_tokens"].as_u64().unwrap() > 1);
    let (finish, chunks) = chunks.split_last().unwrap();
    assert_eq!(finish.1["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(finish.1["choices"][0]["delta"], json!({}));

    let deltas: Vec<&Value> = chunks
        .iter()
        .map(|(_, chunk)| {
            assert_eq!(chunk["object"], "chat.completion.chunk");
            assert_eq!(chunk["choices"][0]["finish_reason"], Value::Null);
            &chunk["choices"][0]["delta"]
        })
        .collect();
    // Only tool calls: the first chunk carries the role, a null content and the first call.
    assert_eq!(deltas[0]["role"], "assistant");
    assert_eq!(deltas[0]["content"], Value::Null);
    assert!(deltas.iter().all(|d| d.get("tool_calls").is_some()));
    assert!(deltas[1..].iter().all(|d| d.get("role").is_none()));

    let mut ids = Vec::new();
    for (index, call) in two_tool_calls().into_iter().enumerate() {
        let pieces: Vec<&Value> = deltas
            .iter()
            .map(|d| {
                assert_eq!(d["tool_calls"].as_array().unwrap().len(), 1);
                &d["tool_calls"][0]
            })
            .filter(|c| c["index"] == index)
            .collect();
        let (opening, rest) = pieces.split_first().unwrap();
        let id = opening["id"].as_str().unwrap();
        assert!(is_tool_call_id(id, "call_", &['-']), "{id}");
        ids.push(id.to_owned());
        assert_eq!(opening["type"], "function");
        assert_eq!(opening["function"]["name"], call.name.as_str());
        assert_eq!(opening["function"]["arguments"], "");
        assert!(rest.len() >= 2, "the arguments come in pieces: {rest:?}");
        let arguments: String = rest
            .iter()
            .map(|c| {
                assert!(c.get("id").is_none() && c["function"].get("name").is_none());
                c["function"]["arguments"].as_str().unwrap()
            })
            .collect();
        assert_eq!(
            serde_json::from_str::<Value>(&arguments).unwrap(),
            call.input
        );
    }
    assert_ne!(ids[0], ids[1]);
}

#[tokio::test]
async fn an_openai_tool_call_after_text_comes_after_the_content_chunks() {
    let fake = FakeLlm::start().await;
    fake.set_chunk_delay(Duration::ZERO);
    fake.push_behaviour(Behaviour::ToolCalls {
        text: "Running it now.".to_owned(),
        calls: vec![ToolCall::exec("date")],
    });
    let events = sse_data(openai(&fake, &openai_request(true, false)).await).await;
    let deltas: Vec<&Value> = events[..events.len() - 1]
        .iter()
        .map(|(_, chunk)| &chunk["choices"][0]["delta"])
        .collect();
    assert_eq!(*deltas[0], json!({"role": "assistant", "content": ""}));
    let first_call = deltas
        .iter()
        .position(|d| d.get("tool_calls").is_some())
        .unwrap();
    let text: String = deltas[1..first_call]
        .iter()
        .map(|d| d["content"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Running it now.");
    assert!(deltas[first_call].get("role").is_none());
    let finish = &events[events.len() - 2].1["choices"][0];
    assert_eq!(finish["finish_reason"], "tool_calls");
}

#[tokio::test]
async fn requests_without_stream_get_the_tool_calls_in_one_whole_message() {
    let fake = FakeLlm::start().await;
    fake.push_behaviour(Behaviour::tool_calls(two_tool_calls()));
    fake.push_behaviour(Behaviour::ToolCalls {
        text: "Looking.".to_owned(),
        calls: two_tool_calls(),
    });

    let message: Value = anthropic(&fake, &anthropic_request(false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(message["stop_reason"], "tool_use");
    let content = message["content"].as_array().unwrap();
    assert_eq!(content.len(), 2, "no text block: {content:?}");
    for (block, call) in content.iter().zip(two_tool_calls()) {
        assert_eq!(block["type"], "tool_use");
        assert!(is_tool_call_id(
            block["id"].as_str().unwrap(),
            "toolu_",
            &[]
        ));
        assert_eq!(block["name"], call.name.as_str());
        assert_eq!(block["input"], call.input);
    }

    let completion: Value = openai(&fake, &openai_request(false, false))
        .await
        .json()
        .await
        .unwrap();
    let choice = &completion["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], "Looking.");
    let calls = choice["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    for (made, call) in calls.iter().zip(two_tool_calls()) {
        assert!(is_tool_call_id(
            made["id"].as_str().unwrap(),
            "call_",
            &['-']
        ));
        assert_eq!(made["type"], "function");
        assert_eq!(made["function"]["name"], call.name.as_str());
        let arguments = made["function"]["arguments"].as_str().unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(arguments).unwrap(),
            call.input
        );
    }
}

#[tokio::test]
async fn tool_calls_without_calls_are_a_plain_text_answer() {
    let fake = FakeLlm::start().await;
    fake.set_behaviour(Behaviour::ToolCalls {
        text: "nothing to run".to_owned(),
        calls: Vec::new(),
    });
    let message: Value = anthropic(&fake, &anthropic_request(false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(message["stop_reason"], "end_turn");
    assert_eq!(
        message["content"],
        json!([{"type": "text", "text": "nothing to run"}])
    );
    let completion: Value = openai(&fake, &openai_request(false, false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(completion["choices"][0]["finish_reason"], "stop");
    assert!(
        completion["choices"][0]["message"]
            .get("tool_calls")
            .is_none()
    );
}

/// A turn after two tool calls in Anthropic's shape: both results in one user message, the second
/// as text blocks and failed, then the internal context OpenClaw adds.
fn anthropic_body_with_tool_results() -> Value {
    json!({
        "model": "fake-claude",
        "max_tokens": 1024,
        "stream": true,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "[Sat 2026-11-21 13:45 UTC] run it"}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "toolu_a", "name": "exec", "input": {"command": "echo hi"}},
                {"type": "tool_use", "id": "toolu_b", "name": "read", "input": {"path": "x"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_a", "content": "hi", "is_error": false},
                {"type": "tool_result", "tool_use_id": "toolu_b", "is_error": true, "content": [
                    {"type": "text", "text": "ENOENT:"},
                    {"type": "image", "source": {}},
                    {"type": "text", "text": "no such file"},
                ]},
                {"type": "tool_result", "tool_use_id": "toolu_unknown", "content": "orphan"},
            ]},
            {"role": "user", "content": [{"type": "text", "text": "<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>\nx\n<<<END_OPENCLAW_INTERNAL_CONTEXT>>>"}]},
        ],
    })
}

/// The same turn in OpenAI's shape: one `tool` message per result.
fn openai_body_with_tool_results() -> Value {
    json!({
        "model": "fake-gpt",
        "stream": true,
        "messages": [
            {"role": "system", "content": "You are a test."},
            {"role": "user", "content": "[Sat 2026-11-21 13:45 UTC] run it\n\nRuntime: agent=main"},
            {"role": "assistant", "content": "Let me look.", "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "exec", "arguments": "{\"command\":\"echo hi\"}"}},
                {"id": "call_b", "type": "function", "function": {"name": "read", "arguments": "{not json"}},
            ]},
            {"role": "tool", "tool_call_id": "call_a", "content": "hi"},
            {"role": "tool", "tool_call_id": "call_b", "content": [
                {"type": "text", "text": "ENOENT:"},
                {"type": "text", "text": "no such file"},
            ]},
            {"role": "tool", "tool_call_id": "call_unknown", "name": "write", "content": "orphan"},
        ],
    })
}

fn result(id: &str, name: Option<&str>, content: &str, is_error: bool) -> ToolResult {
    ToolResult {
        id: id.to_owned(),
        name: name.map(str::to_owned),
        content: content.to_owned(),
        is_error,
    }
}

#[tokio::test]
async fn tool_results_and_calls_are_read_from_both_apis_requests() {
    let fake = FakeLlm::start().await;
    anthropic(&fake, &anthropic_body_with_tool_results()).await;
    openai(&fake, &openai_body_with_tool_results()).await;
    let requests = fake.requests();
    let (claude, gpt) = (&requests[0], &requests[1]);

    assert_eq!(
        claude.tool_results(),
        [
            result("toolu_a", Some("exec"), "hi", false),
            result("toolu_b", Some("read"), "ENOENT:\nno such file", true),
            result("toolu_unknown", None, "orphan", false),
        ]
    );
    assert_eq!(
        claude.tool_calls(),
        [
            ("toolu_a".to_owned(), ToolCall::exec("echo hi")),
            (
                "toolu_b".to_owned(),
                ToolCall::new("read", json!({"path": "x"}))
            ),
        ]
    );
    assert_eq!(
        gpt.tool_results(),
        [
            result("call_a", Some("exec"), "hi", false),
            result("call_b", Some("read"), "ENOENT:\nno such file", false),
            result("call_unknown", Some("write"), "orphan", false),
        ]
    );
    assert_eq!(
        gpt.tool_calls(),
        [
            ("call_a".to_owned(), ToolCall::exec("echo hi")),
            (
                "call_b".to_owned(),
                ToolCall::new("read", json!("{not json"))
            ),
        ]
    );
}

#[tokio::test]
async fn a_round_of_tool_results_is_one_message_of_the_conversation_in_both_apis() {
    let fake = FakeLlm::start().await;
    fake.set_chunk_delay(Duration::ZERO);
    let claude = anthropic(&fake, &anthropic_body_with_tool_results()).await;
    let gpt = openai(&fake, &openai_body_with_tool_results()).await;
    let requests = fake.requests();

    let conversation = [
        ("user".to_owned(), "run it".to_owned()),
        ("assistant".to_owned(), "Let me look.".to_owned()),
        (
            "tool".to_owned(),
            "hi\nENOENT:\nno such file\norphan".to_owned(),
        ),
    ];
    for request in &requests {
        assert_eq!(request.conversation(), conversation, "{:?}", request.api);
        assert_eq!(request.message_count(), 3);
        assert_eq!(request.last_user_text().as_deref(), Some("run it"));
        assert_eq!(request.expected_reply(), reply_text(3, "run it"));
    }
    // The default reply to a turn after tool results is that text.
    for (response, api) in [
        (claude, Api::AnthropicMessages),
        (gpt, Api::OpenAiCompletions),
    ] {
        let text: String = sse_data(response)
            .await
            .iter()
            .filter_map(|(_, data)| match api {
                Api::AnthropicMessages => data["delta"]["text"].as_str(),
                Api::OpenAiCompletions => data["choices"][0]["delta"]["content"].as_str(),
            })
            .collect();
        assert_eq!(text, reply_text(3, "run it"), "{api:?}");
    }
}

#[tokio::test]
async fn a_request_without_tool_turns_has_no_tool_calls_or_results() {
    let fake = FakeLlm::start().await;
    anthropic(&fake, &anthropic_request(false)).await;
    openai(&fake, &openai_request(false, false)).await;
    for request in fake.requests() {
        assert_eq!(request.tool_results(), []);
        assert_eq!(request.tool_calls(), []);
    }
}
