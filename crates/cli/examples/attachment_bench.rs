//! `make bench`: a 10 MB image end to end in local mode on loopback, with the real runner and the fake
//! LLM answering instantly. Each round uploads the image in the web app's three steps (`POST
//! .../attachments/uploads`: the declared file checked; `PUT` of the bytes to the target it names, local
//! mode's `/uploads/<token>`: written to the pending area; `POST .../complete`: the bytes read back,
//! checked and stored privately), reads it back (its download link, then `GET /downloads/<token>`), and sends it with a message over the
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

/// Picks one step's time out of a round.
type Step = fn(&Round) -> Duration;

/// One round's timings.
struct Round {
    /// The three steps together.
    upload: Duration,
    /// The bytes to the target.
    put: Duration,
    /// `complete` → the attachment.
    complete: Duration,
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
        let uploads = format!("http://{addr}/api/conversations/{conversation}/attachments/uploads");
        let started = Instant::now();
        let response = http
            .post(&uploads)
            .bearer_auth(TOKEN)
            .json(&json!({"name": "noise.png", "size": image.len(), "contentType": "image/png"}))
            .send()
            .await?;
        anyhow::ensure!(response.status() == 201, "begin: {}", response.status());
        let begun: Value = response.json().await?;
        let put_started = Instant::now();
        let target = begun["target"]["url"].as_str().unwrap_or_default();
        let response = http
            .put(format!("http://{addr}{target}"))
            .body(image.clone())
            .send()
            .await?;
        anyhow::ensure!(response.status().is_success(), "put: {}", response.status());
        let put = put_started.elapsed();
        let complete_started = Instant::now();
        let response = http
            .post(format!(
                "{uploads}/{}/complete",
                begun["uploadId"].as_str().unwrap_or_default()
            ))
            .bearer_auth(TOKEN)
            .json(&json!({"name": "noise.png", "contentType": "image/png"}))
            .send()
            .await?;
        anyhow::ensure!(response.status() == 201, "complete: {}", response.status());
        let view: Value = response.json().await?;
        let complete = complete_started.elapsed();
        let upload = started.elapsed();
        let id = view["id"].as_str().unwrap_or_default().to_owned();

        let read_started = Instant::now();
        let link: Value = http
            .get(format!(
                "http://{addr}/api/conversations/{conversation}/attachments/{id}/link"
            ))
            .bearer_auth(TOKEN)
            .send()
            .await?
            .json()
            .await?;
        let url = link["url"].as_str().unwrap_or_default();
        let bytes = http
            .get(format!("http://{addr}{url}"))
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
            put,
            complete,
            download,
            to_llm: request.received_at - sent,
            turn: done - sent,
            end_to_end: done - started,
            sent_bytes: images[0].bytes().map_or(0, |b| b.len()),
        });
    }

    let column = |pick: Step| {
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
    let rows: [(&str, Step); 7] = [
        (
            "upload, three steps, 10 MB → `201` (declared, sent, checked, stored)",
            |r| r.upload,
        ),
        (
            "of which `PUT` of the bytes to the target (written to the pending area)",
            |r| r.put,
        ),
        (
            "of which `complete` (read back, checked, stored with fsync, pending removed)",
            |r| r.complete,
        ),
        ("read back: the link, then `GET` of it → all bytes", |r| {
            r.download
        }),
        (
            "`sendMessage` → the fake LLM has the request with the image",
            |r| r.to_llm,
        ),
        ("`sendMessage` → final `message` frame", |r| r.turn),
        ("upload start → final `message` frame", |r| r.end_to_end),
    ];
    for (step, pick) in rows {
        println!("| {step} | {} |", column(pick));
    }
    println!(
        "\nThe image OpenClaw sent the model: {} bytes (scaled from {} bytes). Load average at the end {}.",
        measured[0].sent_bytes,
        image.len(),
        load_average()
    );
    app.runtime.shutdown().await;
    Ok(())
}
