//! `make bench`: a 10 MB image end to end in local mode on loopback, with the real runner and the fake
//! LLM answering instantly. Each round uploads the image (`POST .../attachments`: the body read, its
//! bytes checked, written privately), reads it back (`GET`), and sends it with a message over the
//! WebSocket: the turn stages it for the runner, OpenClaw scales it down (it is over its 1200 px and 5 MB
//! limits) and sends it to the model, and the reply comes back. Prints a Markdown table for
//! `docs/benchmarks.md`. `BENCH_ROUNDS` sets the rounds (default 5).

#[path = "bench/local_mode.rs"]
mod local_mode;

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use local_mode::{Bench, TOKEN, load_average, median, ms};
use serde_json::{Value, json};
use serverless_openclaw_testkit::images::noise_png;
use tokio_tungstenite::tungstenite::Message;

/// The image's side: 1825 × 1825 RGB pixels of noise in an uncompressed PNG are 10.0 MB.
const SIDE: u32 = 1825;

/// One round's timings.
struct Round {
    upload: Duration,
    download: Duration,
    /// The message frame sent → the fake LLM had the request with the image.
    to_llm: Duration,
    /// The message frame sent → the final `message` frame.
    turn: Duration,
    /// Upload start → the final `message` frame.
    end_to_end: Duration,
    /// The image as OpenClaw sent it to the model.
    sent_bytes: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let bench = Bench::start().await?;
    let fake = &bench.fake;
    let rounds = local_mode::rounds();
    let data = tempfile::tempdir()?;
    let (app, addr) = bench.serve_warm(data.path()).await?;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws?token={TOKEN}")).await?;
    let http = reqwest::Client::new();
    let image = noise_png(SIDE, SIDE, 0x2545_f491_4f6c_dd1d);
    println!(
        "Machine: {} CPUs; load average at start {}. Image: {SIDE}×{SIDE} PNG, {} bytes.\n",
        std::thread::available_parallelism().map_or(0, usize::from),
        load_average(),
        image.len()
    );

    let mut measured = Vec::new();
    for round in 0..rounds {
        // A conversation per round: each turn sends only its own image (earlier images stay in
        // OpenClaw's transcript and would be sent again).
        let conversation = format!("bench-{round}");
        let started = Instant::now();
        let response = http
            .post(format!(
                "http://{addr}/api/conversations/{conversation}/attachments?name=noise.png"
            ))
            .bearer_auth(TOKEN)
            .header("content-type", "image/png")
            .body(image.clone())
            .send()
            .await?;
        anyhow::ensure!(response.status() == 201, "upload: {}", response.status());
        let view: Value = response.json().await?;
        let upload = started.elapsed();
        let id = view["id"].as_str().unwrap_or_default().to_owned();

        let read_started = Instant::now();
        let bytes = http
            .get(format!(
                "http://{addr}/api/conversations/{conversation}/attachments/{id}"
            ))
            .bearer_auth(TOKEN)
            .send()
            .await?
            .bytes()
            .await?;
        let download = read_started.elapsed();
        anyhow::ensure!(
            bytes.len() == image.len(),
            "download: {} bytes",
            bytes.len()
        );

        let requests_before = fake.request_count();
        let frame = json!({"action": "sendMessage", "conversationId": conversation,
            "clientMessageId": format!("b{round}"), "message": "what is this?", "attachments": [id]});
        let sent = Instant::now();
        ws.send(Message::Text(frame.to_string().into())).await?;
        let done = loop {
            let Some(Ok(Message::Text(text))) = ws.next().await else {
                anyhow::bail!("socket closed")
            };
            let frame: Value = serde_json::from_str(text.as_str())?;
            match frame["type"].as_str() {
                Some("message") => break Instant::now(),
                Some("error") => anyhow::bail!("turn failed: {frame}"),
                _ => {}
            }
        };
        let requests = fake.requests();
        anyhow::ensure!(
            requests.len() == requests_before + 1,
            "one LLM request per turn"
        );
        let request = &requests[requests_before];
        let images = request.images();
        anyhow::ensure!(images.len() == 1, "the request has {} images", images.len());
        measured.push(Round {
            upload,
            download,
            to_llm: request.received_at - sent,
            turn: done - sent,
            end_to_end: done - started,
            sent_bytes: images[0].bytes().map_or(0, |b| b.len()),
        });
    }

    let column = |pick: fn(&Round) -> Duration| {
        let mut values: Vec<Duration> = measured.iter().map(pick).collect();
        let median = median(&mut values);
        format!(
            "{} ({} – {})",
            ms(median),
            ms(values[0]),
            ms(values[values.len() - 1])
        )
    };
    println!("| step (median of {rounds}, min – max) | time |");
    println!("| --- | --- |");
    println!(
        "| upload `POST` 10 MB → `201` (read, checked, written) | {} |",
        column(|r| r.upload)
    );
    println!(
        "| read back `GET` → all bytes | {} |",
        column(|r| r.download)
    );
    println!(
        "| `sendMessage` → the fake LLM has the request with the image | {} |",
        column(|r| r.to_llm)
    );
    println!(
        "| `sendMessage` → final `message` frame | {} |",
        column(|r| r.turn)
    );
    println!(
        "| upload start → final `message` frame | {} |",
        column(|r| r.end_to_end)
    );
    println!(
        "\nThe image OpenClaw sent the model: {} bytes (scaled from {} bytes). Load average at the end {}.",
        measured[0].sent_bytes,
        image.len(),
        load_average()
    );
    app.runtime.shutdown().await;
    Ok(())
}
