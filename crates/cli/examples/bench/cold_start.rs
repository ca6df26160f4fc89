//! The runner's cold start against the naive one-shot runner (`naive-runner.mjs` here): each is spawned
//! with a `run` line already on its stdin (the message sent at spawn, as on the agent Lambda's cold
//! start) and timed from spawn to its first delta. Both run alternately, round after round, on two CPUs
//! and on one (`taskset -c 0`, the share of a 1,769 MB Lambda), against the same fake LLM.
//!
//! The runner gets what the agent image gives it: a compile cache primed by `runner.mjs --prime` (a
//! fresh copy per start, as the image's is read-only) and the config the host renders. The naive runner
//! gets no cache and that config without the runner's speed switches (`plugins`, `tools`).
//!
//! Besides wall time, each start reports the CPU time its process had used by the first delta (all
//! threads, from `/proc`): on a shared machine it varies far less than wall time.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;
use serverless_openclaw_agent::{
    Confinement, DeploymentKeys, OpenClawRuntime, ProviderConfig, RuntimeSettings,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use crate::{median, ms};

/// How long one start may take before the benchmark gives up on it.
const START_TIMEOUT: Duration = Duration::from_secs(180);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runner {
    Real,
    Naive,
}

/// One start: spawn → `ready`, spawn → first delta, and the CPU time used by then.
struct Start {
    ready: Duration,
    first_delta: Duration,
    cpu: Duration,
}

/// User + system CPU time of a process so far (`/proc/<pid>/stat`, in the kernel's USER_HZ, 100 a second).
fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| -> anyhow::Result<u64> {
        Ok(fields
            .get(i)
            .ok_or_else(|| anyhow::anyhow!("short /proc stat"))?
            .parse()?)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    Ok(Duration::from_millis((ticks(11)? + ticks(12)?) * 10))
}

pub struct Setup<'a> {
    pub repo: &'a Path,
    pub node: &'a Path,
    pub provider: ProviderConfig,
    pub rounds: usize,
}

/// Primes a compile cache the way the image build does, then measures. Prints a Markdown table.
pub async fn measure(setup: &Setup<'_>) -> anyhow::Result<()> {
    let primed = tempfile::tempdir()?;
    let started = Instant::now();
    let status = Command::new(setup.node)
        .arg(setup.repo.join("runner/runner.mjs"))
        .arg("--prime")
        .env("NODE_COMPILE_CACHE", primed.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await?;
    anyhow::ensure!(status.success(), "runner.mjs --prime failed: {status}");
    println!(
        "Compile cache primed in {} (`runner.mjs --prime`).\n",
        ms(started.elapsed())
    );

    let variants = [
        (Runner::Real, 2),
        (Runner::Naive, 2),
        (Runner::Real, 1),
        (Runner::Naive, 1),
    ];
    let mut starts: Vec<Vec<Start>> = variants.iter().map(|_| Vec::new()).collect();
    for round in 0..setup.rounds {
        // Each round begins with another variant, so none always follows the same one.
        for k in 0..variants.len() {
            let i = (round + k) % variants.len();
            let (runner, cpus) = variants[i];
            let start = start_once(setup, runner, cpus, primed.path())
                .await
                .with_context(|| format!("{runner:?} runner on {cpus} CPU(s), round {round}"))?;
            starts[i].push(start);
        }
    }

    println!(
        "| spawn → first delta, message sent at spawn (median of {}) | 2 CPUs | 1 CPU (`taskset -c 0`) |",
        setup.rounds
    );
    println!("|---|---|---|");
    let cell = |i: usize, pick: fn(&Start) -> Duration| {
        let mut values: Vec<Duration> = starts[i].iter().map(pick).collect();
        let (min, max) = (values.iter().min().copied(), values.iter().max().copied());
        let med = median(&mut values);
        format!(
            "{} ({}–{})",
            ms(med),
            ms(min.unwrap_or_default()),
            ms(max.unwrap_or_default())
        )
    };
    println!(
        "| naive one-shot runner: first delta | {} | {} |",
        cell(1, |s| s.first_delta),
        cell(3, |s| s.first_delta)
    );
    println!(
        "| runner: first delta | {} | {} |",
        cell(0, |s| s.first_delta),
        cell(2, |s| s.first_delta)
    );
    let ratio = |real: usize, naive: usize| {
        let mut r: Vec<Duration> = starts[real].iter().map(|s| s.first_delta).collect();
        let mut n: Vec<Duration> = starts[naive].iter().map(|s| s.first_delta).collect();
        median(&mut r).as_secs_f64() / median(&mut n).as_secs_f64()
    };
    println!(
        "| runner ÷ naive (target ≤ 0.5) | {:.2} | {:.2} |",
        ratio(0, 1),
        ratio(2, 3)
    );
    println!(
        "| naive: spawn → `ready` (OpenClaw loaded) | {} | {} |",
        cell(1, |s| s.ready),
        cell(3, |s| s.ready)
    );
    println!(
        "| runner: spawn → `ready` | {} | {} |",
        cell(0, |s| s.ready),
        cell(2, |s| s.ready)
    );
    println!(
        "| naive: CPU time by the first delta | {} | {} |",
        cell(1, |s| s.cpu),
        cell(3, |s| s.cpu)
    );
    println!(
        "| runner: CPU time by the first delta | {} | {} |",
        cell(0, |s| s.cpu),
        cell(2, |s| s.cpu)
    );
    println!();
    Ok(())
}

/// Spawns one runner with its `run` line already written and times it.
async fn start_once(
    setup: &Setup<'_>,
    runner: Runner,
    cpus: usize,
    primed: &Path,
) -> anyhow::Result<Start> {
    let dir = tempfile::tempdir()?;
    // The host's own preparation of a runner: config file, folders, environment.
    let runtime = OpenClawRuntime::new(RuntimeSettings {
        node: setup.node.to_path_buf(),
        runner_script: setup.repo.join("runner/runner.mjs"),
        state_dir: dir.path().join("agent"),
        workspace_root: dir.path().join("workspaces"),
        turn_timeout: Duration::from_secs(120),
        ready_timeout: START_TIMEOUT,
        provider: Some(setup.provider.clone()),
        disable_tools: false,
        keys: DeploymentKeys::default(),
        confinement: Confinement::None,
        browser: None,
    })?;
    let spec = runtime.runner_spec().clone();
    let llm = setup.provider.run_llm(&DeploymentKeys::default())?;
    let mut run = serde_json::json!({
        "type": "run", "id": "cold", "sessionId": "bench-cold",
        "transcriptPath": dir.path().join("in.jsonl"), "transcriptOutPath": dir.path().join("out.jsonl"),
        "workspaceDir": dir.path().join("workspaces/bench"), "prompt": "hello",
        "timeoutMs": 120_000, "disableTools": false,
    });
    let mut env: Vec<(String, PathBuf)> = Vec::new();
    let (script_args, real_script) = spec.args.split_at(spec.args.len() - 1);
    let script = match runner {
        Runner::Real => {
            let cache = dir.path().join("compile-cache");
            copy_dir(primed, &cache)?;
            env.push(("NODE_COMPILE_CACHE".into(), cache));
            // The runner's own way: the turn names its provider, model and key.
            run["llm"] = serde_json::to_value(&llm)?;
            PathBuf::from(&real_script[0])
        }
        Runner::Naive => {
            let config_path = dir.path().join("naive-openclaw.json");
            let mut config: Value =
                serde_json::from_slice(&std::fs::read(dir.path().join("agent/openclaw.json"))?)?;
            if let Some(config) = config.as_object_mut() {
                config.remove("plugins");
                config.remove("tools");
            }
            // A naive runner reads its provider from the config, with the key in it.
            let mut entry = llm
                .provider
                .clone()
                .unwrap_or_else(|| serde_json::json!({}));
            entry["apiKey"] = llm.api_key.expose().into();
            config["models"]["providers"] = serde_json::json!({ llm.provider_id: entry });
            config["agents"]["defaults"] =
                serde_json::json!({ "model": { "primary": setup.provider.model_ref() } });
            run["provider"] = llm.provider_id.into();
            run["model"] = llm.model.clone().into();
            std::fs::write(&config_path, serde_json::to_vec(&config)?)?;
            env.push(("OPENCLAW_CONFIG_PATH".into(), config_path));
            env.push((
                "SERVERLESS_OPENCLAW_OPENCLAW_DIR".into(),
                setup.repo.join("runner/node_modules/openclaw"),
            ));
            setup
                .repo
                .join("crates/cli/examples/bench/naive-runner.mjs")
        }
    };
    let mut command = if cpus == 1 {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).arg(&spec.program);
        c
    } else {
        Command::new(&spec.program)
    };
    command
        .args(script_args)
        .arg(&script)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .env_remove("NODE_COMPILE_CACHE")
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);

    let spawned = Instant::now();
    let mut child = command.spawn().context("spawning node")?;
    let pid = child.id().context("pid")?;
    let mut stdin = child.stdin.take().context("stdin")?;
    stdin.write_all(format!("{run}\n").as_bytes()).await?;
    stdin.flush().await?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let mut ready = None;
    let outcome = tokio::time::timeout(START_TIMEOUT, async {
        while let Some(line) = lines.next_line().await? {
            let line: Value = serde_json::from_str(&line)?;
            match line["type"].as_str() {
                Some("ready") => ready = Some(spawned.elapsed()),
                Some("delta") => return Ok((spawned.elapsed(), cpu_time(pid)?)),
                Some("error" | "fatal") => anyhow::bail!("the turn failed: {line}"),
                _ => {}
            }
        }
        anyhow::bail!("stdout closed before the first delta")
    })
    .await;
    let (first_delta, cpu) = outcome.context("no first delta in time")??;
    // The runner exits on stdin EOF; the naive one after its turn.
    drop(stdin);
    if tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .is_err()
    {
        child.kill().await?;
    }
    Ok(Start {
        ready: ready.unwrap_or_default(),
        first_delta,
        cpu,
    })
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
