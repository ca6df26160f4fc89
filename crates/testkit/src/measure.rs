//! What the benchmarks and the load suite measure with: percentiles, a process tree's resident memory
//! from `/proc`, the machine's load average, and a turn's overhead as the fake LLM's timestamps split it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::fake_llm::RecordedRequest;

/// The `p`th percentile (nearest rank) of `sorted`, which must not be empty.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `p50 / p95 / p99` of `values` (sorted here) for tables.
pub fn distribution(values: &mut [Duration]) -> String {
    values.sort();
    [50.0, 95.0, 99.0]
        .map(|p| ms(percentile(values, p)))
        .join(" / ")
}

/// A duration in whole milliseconds, for tables.
pub fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// The machine's load average over 1, 5 and 15 minutes.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The resident memory of process `pid` in MiB (`VmRSS`); `None` once it is gone.
pub fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())?;
    Some(kib / 1024.0)
}

/// The resident memory of `pid` and all its descendants in MiB: a runner started through bubblewrap
/// is a `bwrap` process whose child is Node, and Node's own children count too. Shared pages count
/// once per process, so this is an upper bound.
pub fn tree_rss_mib(pid: u32) -> f64 {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(child) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if let Some(parent) = parent_of(child) {
            children.entry(parent).or_default().push(child);
        }
    }
    let mut total = 0.0;
    let mut pending = vec![pid];
    while let Some(next) = pending.pop() {
        total += rss_mib(next).unwrap_or(0.0);
        pending.extend(children.get(&next).into_iter().flatten());
    }
    total
}

/// The parent of `pid`, from `/proc/<pid>/stat` (the field after the command, which may hold spaces).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_command = &stat[stat.rfind(')')? + 1..];
    after_command.split_whitespace().nth(1)?.parse().ok()
}

/// Our overhead in a turn that made one LLM request, as `make bench` defines it: from the client's
/// frame (`sent`) to the request reaching the fake LLM, plus from the fake's last byte to the final
/// frame (`done`). What is left of the turn is the model's time and OpenClaw's. `None` while the
/// request's response has not ended.
pub fn overhead(sent: Instant, request: &RecordedRequest, done: Instant) -> Option<Duration> {
    Some(
        request.received_at.saturating_duration_since(sent)
            + done.saturating_duration_since(request.response_end?),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&values, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&values, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&values[..1], 95.0), Duration::from_millis(1));
    }

    #[test]
    fn this_process_tree_has_memory_and_a_parent() {
        let me = std::process::id();
        assert!(rss_mib(me).expect("this process is running") > 0.0);
        assert!(tree_rss_mib(me) > 0.0);
        assert!(parent_of(me).is_some());
        assert_eq!(rss_mib(u32::MAX), None);
    }
}
