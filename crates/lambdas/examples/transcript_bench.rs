//! `make bench` (transcript part, host side): what the agent Lambda pays per turn to load a
//! conversation's transcript from S3 and store the new one (a GetObject, and a PutObject conditional on
//! the ETag it loaded: `S3TranscriptStore`), at 10, 100 and 1,000 turns stored whole, and for a
//! conversation compacted to its last 20 turns (what the runner stores after OpenClaw compacted it,
//! whatever the conversation's length). Against moto on loopback, so it measures our adapter and the
//! transfer of the bytes, not S3's own latency. The runner's part (parse into OpenClaw's SessionManager,
//! write back) is `runner/bench/transcript-bench.mjs`. Prints a Markdown table for `docs/benchmarks.md`.

use std::time::{Duration, Instant};

use serde_json::json;
use serverless_openclaw_aws::transcripts::S3TranscriptStore;
use serverless_openclaw_core::ids::{ConversationId, UserId};
use serverless_openclaw_core::ports::TranscriptStore;
use serverless_openclaw_testkit::moto::Moto;

const REPS: usize = 15;
const KEPT_TURNS: usize = 20;
/// A user message and a reply of typical chat length (about 300 and 900 characters), as the
/// runner's bench writes them.
const USER_TEXT: &str = "Please look at the following and tell me what you think about it. ";
const REPLY_TEXT: &str =
    "Here is what I think, point by point, with the reasons for each of them. ";

/// A transcript of `turns` turns in OpenClaw's JSONL shape (header, model change, messages), with a
/// compaction record in front when `summary` is set.
fn transcript(turns: usize, summary: bool) -> Vec<u8> {
    let mut lines = vec![
        json!({"type":"session","version":4,"id":uuid::Uuid::new_v4().to_string(),"cwd":"/tmp/w"}),
        json!({"type":"model_change","provider":"custom","modelId":"bench","id":"m0","parentId":null}),
    ];
    if summary {
        lines.push(json!({"type":"compaction","id":"c0","parentId":"m0",
            "summary":"A summary of the earlier conversation. ".repeat(50),"firstKeptEntryId":"u0","tokensBefore":50_000}));
    }
    for n in 0..turns {
        for (role, text) in [
            ("user", USER_TEXT.repeat(5)),
            ("assistant", REPLY_TEXT.repeat(12)),
        ] {
            lines.push(json!({"type":"message","id":format!("{role}{n}"),"parentId":"x",
                "timestamp":"2026-12-07T10:00:00.000Z",
                "message":{"role":role,"content":[{"type":"text","text":format!("{n}: {text}")}],
                    "usage":{"input":1000,"output":200,"cacheRead":0,"cacheWrite":0,"totalTokens":1200}}}));
        }
    }
    let mut out = Vec::new();
    for line in lines {
        out.extend(line.to_string().into_bytes());
        out.push(b'\n');
    }
    out
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let sdk = Moto::shared().sdk_config();
    let client = serverless_openclaw_aws::config::s3_client(&sdk);
    let bucket = format!("transcript-bench-{}", uuid::Uuid::new_v4().simple());
    client
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("bucket");
    let store = S3TranscriptStore::new(client, bucket);
    let user = UserId::parse("bench").expect("user id");
    println!("transcript load + store per turn on S3 (moto on loopback), median of {REPS}");
    println!(
        "| turns | stored | size | load (GetObject) | store (conditional PutObject) | load + store |"
    );
    println!("|---|---|---|---|---|---|");
    let cases = [
        (10, false),
        (100, false),
        (100, true),
        (1000, false),
        (1000, true),
    ];
    for (turns, compacted) in cases {
        let conversation = ConversationId::parse(format!("c{turns}-{compacted}")).expect("id");
        let bytes = transcript(if compacted { KEPT_TURNS } else { turns }, compacted);
        store
            .save(&user, &conversation, &bytes, None)
            .await
            .expect("first save");
        let (mut loads, mut stores) = (Vec::new(), Vec::new());
        for _ in 0..REPS {
            let started = Instant::now();
            let loaded = store
                .load(&user, &conversation)
                .await
                .expect("load")
                .expect("stored");
            let loaded_at = Instant::now();
            store
                .save(&user, &conversation, &bytes, Some(&loaded.version))
                .await
                .expect("conditional save");
            loads.push(loaded_at - started);
            stores.push(loaded_at.elapsed());
        }
        let both: Vec<Duration> = loads.iter().zip(&stores).map(|(l, s)| *l + *s).collect();
        let stored = if compacted {
            format!("compacted, last {KEPT_TURNS} turns kept")
        } else {
            "whole".to_owned()
        };
        println!(
            "| {turns} | {stored} | {} KiB | {} | {} | {} |",
            bytes.len() / 1024,
            ms(median(loads)),
            ms(median(stores)),
            ms(median(both))
        );
    }
}
