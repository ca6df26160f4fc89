//! `make bench` (gateway part): the release bootstraps of the gateway functions against moto, the
//! Management API recorder and a Runtime API emulator on loopback.
//!
//! Per function: (a) init, spawn → first Runtime API `/next` poll, over 20 cold starts (median, max);
//! (b) peak RSS (`VmHWM`) of one process after 100 events, and the median event round trip. Prints a
//! Markdown table for `docs/benchmarks.md`. Targets: init ≤ 20 ms, peak RSS ≤ 40 MB.

mod bench_common;
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use bench_common::release_bin;
use serde_json::Value;
use serverless_openclaw_testkit::fixtures;
use support::{World, send_frame};

const COLD_STARTS: usize = 20;
const EVENTS: usize = 100;

fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM");
    kib / 1024.0
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

type Event = Box<dyn Fn(usize) -> Value>;

#[tokio::main]
async fn main() {
    let world = World::create().await;
    let (_, token) = world.user("bench").await;
    let connect = world.function(&release_bin("ws-connect")).await;
    connect
        .invoke(
            fixtures::ws_connect("bench-conn=", Some(&token)),
            support::GATEWAY_INVOKE,
        )
        .await;

    let cases: Vec<(&str, Event)> = vec![
        (
            "ws-connect",
            Box::new(move |i| fixtures::ws_connect(&format!("c{i}="), Some(&token))),
        ),
        (
            "ws-message",
            Box::new(|i| {
                fixtures::ws_message(
                    "bench-conn=",
                    &send_frame("bench", &format!("m{i}"), "hello"),
                )
            }),
        ),
        (
            "ws-disconnect",
            Box::new(|i| fixtures::ws_disconnect(&format!("c{i}="))),
        ),
        (
            "http-api",
            Box::new(|_| fixtures::http_v2("GET", "/api/conversations", &[], None, "bench-user")),
        ),
        ("watchdog", Box::new(|_| fixtures::scheduled())),
    ];

    println!(
        "| function | init median | init max | peak RSS after {EVENTS} events | event round trip median |"
    );
    println!("|---|---|---|---|---|");
    for (name, event) in cases {
        let bin = release_bin(name);
        let mut inits = Vec::new();
        for _ in 0..COLD_STARTS {
            let function = world.function(&bin).await;
            let init = function
                .api
                .wait_ready(&function.process, Duration::from_secs(10))
                .await
                .expect("first poll");
            inits.push(init);
        }
        inits.sort();
        let function = world.function(&bin).await;
        let mut trips = Vec::new();
        for i in 0..EVENTS {
            let started = Instant::now();
            function.invoke(event(i), support::GATEWAY_INVOKE).await;
            trips.push(started.elapsed());
        }
        trips.sort();
        let rss = peak_rss_mib(function.process.pid().expect("pid"));
        println!(
            "| `{name}` | {} | {} | {rss:.1} MiB | {} |",
            ms(inits[inits.len() / 2]),
            ms(inits[inits.len() - 1]),
            ms(trips[trips.len() / 2]),
        );
    }
}
