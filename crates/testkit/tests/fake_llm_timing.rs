//! The fake LLM's timestamps, which the benchmark uses to split a turn's time between the client and the
//! model: when a request arrived, and when the last streamed response handed over its last byte.

use std::time::{Duration, Instant};

use serde_json::json;
use serverless_openclaw_testkit::fake_llm::FakeLlm;

#[tokio::test]
async fn the_arrival_of_a_request_and_the_end_of_its_stream_are_timed() {
    let fake = FakeLlm::start().await;
    fake.set_chunk_delay(Duration::from_millis(20));
    assert_eq!(fake.last_response_end(), None, "nothing streamed yet");

    let before = Instant::now();
    let response = reqwest::Client::new()
        .post(format!("{}/v1/messages", fake.anthropic_base_url()))
        .json(&json!({
            "model": "m",
            "max_tokens": 16,
            "messages": [{"role": "user", "content": "tell me a few words please"}],
            "stream": true,
        }))
        .send()
        .await
        .unwrap();
    let first_byte = Instant::now();
    let body = response.text().await.unwrap();
    let after = Instant::now();

    assert!(body.contains("message_stop"), "{body}");
    let received = fake.requests()[0].received_at;
    assert!(before <= received && received <= first_byte);
    let ended = fake.last_response_end().expect("the stream's end is noted");
    // Several chunks 20 ms apart: the end comes well after the arrival, and before the client had it all.
    assert!(
        ended >= received + Duration::from_millis(40),
        "{:?}",
        ended - received
    );
    assert!(ended <= after);
    assert_eq!(
        fake.requests()[0].response_end,
        Some(ended),
        "the request's own end is the last one"
    );
}
