//! What keeps OpenClaw, and every tool it starts, away from what is not the current turn's
//! (`docs/security.md`):
//!
//! - [`runner_env`]: the runner's whole environment, built from an allow-list. The host's own
//!   environment (AWS credentials, the Telegram bot token, the local access token, the deployment's API
//!   keys) never reaches it; a turn's key travels on the runner's stdin instead.
//! - [`forbid_inspection`]: makes the host process non-dumpable, so processes of the same user (the
//!   runner's tools) cannot read its `/proc/<pid>/environ` or memory.
//! - [`keep_files_private`]: files and folders this process and its children create are the owner's
//!   alone (umask 077): conversations, transcripts, OpenClaw's state and the workspaces.
//! - [`Confinement`]: optionally, the runner in a bubblewrap mount and PID namespace (local mode on
//!   Linux) that shows the machine as it is except the data dir, of which only the runner's own state
//!   folder stays visible, with a private `/tmp`, no view of the host's processes, and no capabilities.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Variables the runner inherits from the host when they are set. None holds a secret; they keep
/// the runner's tools behaving like a normal shell (commands found, text decoded, local time) and
/// let Node find its shared libraries where the platform puts them elsewhere (Lambda).
const INHERITED_ENV: [&str; 6] = [
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "LD_LIBRARY_PATH",
];

/// The runner's whole environment: the host's [`INHERITED_ENV`] (read with `inherited`) and the
/// runner's `own` variables (OpenClaw's paths and switches), which win. Nothing else of the host's
/// environment is passed on.
pub fn runner_env(
    own: Vec<(OsString, OsString)>,
    inherited: impl Fn(&str) -> Option<OsString>,
) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = INHERITED_ENV
        .iter()
        .filter(|name| !own.iter().any(|(k, _)| k == OsStr::new(name)))
        .filter_map(|name| Some((OsString::from(name), inherited(name)?)))
        .collect();
    env.extend(own);
    env
}

/// Where an OpenClaw process (the runner or the gateway) keeps its files.
pub struct OpenClawPaths<'a> {
    pub config: &'a Path,
    pub state: &'a Path,
    pub home: &'a Path,
    pub tmp: &'a Path,
    /// Node's compile cache when our environment names none (`docs/runner-protocol.md`).
    pub compile_cache: &'a Path,
}

/// The whole environment of an OpenClaw process: its [`OpenClawPaths`], the headless switches
/// ([`crate::config::HEADLESS_ENV`]) and `extra`, over the host's [`INHERITED_ENV`] ([`runner_env`]).
pub fn openclaw_env(
    paths: &OpenClawPaths<'_>,
    extra: Vec<(OsString, OsString)>,
) -> Vec<(OsString, OsString)> {
    let mut own: Vec<(OsString, OsString)> = vec![
        ("OPENCLAW_CONFIG_PATH".into(), paths.config.into()),
        ("OPENCLAW_STATE_DIR".into(), paths.state.into()),
        ("OPENCLAW_HOME".into(), paths.home.into()),
        ("HOME".into(), paths.home.into()),
        ("TMPDIR".into(), paths.tmp.into()),
        ("SQLITE_TMPDIR".into(), paths.tmp.into()),
        // The agent image primes a compile cache and names it in our environment; elsewhere the
        // first process fills one under the state dir.
        (
            "NODE_COMPILE_CACHE".into(),
            std::env::var_os("NODE_COMPILE_CACHE").unwrap_or_else(|| paths.compile_cache.into()),
        ),
    ];
    own.extend(
        crate::config::HEADLESS_ENV
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v))),
    );
    own.extend(extra);
    runner_env(own, |name| std::env::var_os(name))
}

/// Makes this process non-dumpable (Linux): its `/proc/<pid>/` files become root's and ptrace is
/// refused, so a tool running as the same user cannot read the host's environment or memory. The
/// runner, a fresh `exec`, is dumpable again; it holds nothing but the turns it runs. Elsewhere a
/// no-op (see `docs/security.md` for what that leaves open on macOS).
pub fn forbid_inspection() -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)?;
    }
    Ok(())
}

/// Sets this process's umask to 077, which the runner and its tools inherit: in local mode everything
/// under the data dir (OpenClaw's state, sessions, turn files, workspaces) is readable by the owner only,
/// whichever code creates it.
pub fn keep_files_private() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Where the runner runs.
#[derive(Debug, Clone, Default)]
pub enum Confinement {
    /// As a plain child process (on AWS Lambda, where the execution environment is the sandbox and
    /// user namespaces are not available, and wherever bubblewrap is not).
    #[default]
    None,
    /// Inside bubblewrap; see [`Bubblewrap`].
    Bubblewrap(Bubblewrap),
}

/// The runner inside a bubblewrap (`bwrap`) namespace: the machine's file system as it is, but
/// `hidden` replaced by an empty folder in which only the runner's state dir is visible, a private
/// `/tmp` (in which Node and the runner stay visible, read-only, should they live there), a PID
/// namespace of its own (no other process of the machine is visible), no IPC with the host, a new
/// session (no terminal injection) and no capabilities when run as root.
#[derive(Debug, Clone)]
pub struct Bubblewrap {
    program: PathBuf,
    hidden: PathBuf,
}

/// How long the start-up check of bubblewrap may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

impl Bubblewrap {
    /// `bwrap` found on `PATH`, if any.
    pub fn find() -> Option<PathBuf> {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|dir| dir.join("bwrap"))
            .find(|candidate| candidate.is_file())
    }

    /// Checks that `program` can build the namespace here (it cannot where user namespaces are
    /// disabled, or inside some containers) and returns the confinement that hides `hidden`.
    pub fn check(program: PathBuf, hidden: PathBuf) -> Result<Self, String> {
        let sandbox = Self { program, hidden };
        let scratch = std::env::temp_dir();
        let (program, args) = sandbox.wrap(
            &scratch,
            &[],
            Path::new("/bin/sh"),
            &["-c".into(), "exit 0".into()],
        );
        let mut child = Command::new(&program)
            .args(&args)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("could not run {}: {e}", program.display()))?;
        let started = std::time::Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(sandbox),
                Ok(Some(status)) => {
                    let output = child.wait_with_output().map_err(|e| e.to_string())?;
                    return Err(format!(
                        "{} failed ({status}): {}",
                        program.display(),
                        String::from_utf8_lossy(&output.stderr).trim()
                    ));
                }
                Ok(None) if started.elapsed() < PROBE_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => {
                    let _ = child.kill();
                    return Err(format!("{} did not finish", program.display()));
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    /// The command that runs `program` with `args` inside the namespace, with `visible` (the runner's
    /// state dir, inside the hidden dir or not) writable and `readable` (Node, the runner's folder)
    /// kept visible read-only, wherever they are (a checkout in `/tmp` included).
    pub fn wrap(
        &self,
        visible: &Path,
        readable: &[PathBuf],
        program: &Path,
        args: &[OsString],
    ) -> (PathBuf, Vec<OsString>) {
        let mut wrapped: Vec<OsString> = [
            "--die-with-parent",
            "--new-session",
            "--unshare-pid",
            "--unshare-ipc",
            "--dev-bind",
            "/",
            "/",
            "--proc",
            "/proc",
            "--tmpfs",
            "/tmp",
        ]
        .into_iter()
        .map(OsString::from)
        .collect();
        wrapped.extend(["--tmpfs".into(), self.hidden.clone().into_os_string()]);
        for path in readable {
            wrapped.extend([
                "--ro-bind".into(),
                path.as_os_str().to_owned(),
                path.as_os_str().to_owned(),
            ]);
        }
        wrapped.extend([
            "--bind".into(),
            visible.as_os_str().to_owned(),
            visible.as_os_str().to_owned(),
        ]);
        if is_root() {
            // Root keeps its capabilities in the namespace unless told otherwise, and could then
            // simply unmount what hides the data dir.
            wrapped.extend(["--cap-drop".into(), "ALL".into()]);
        }
        wrapped.push("--".into());
        wrapped.push(program.as_os_str().to_owned());
        wrapped.extend(args.iter().cloned());
        (self.program.clone(), wrapped)
    }
}

fn is_root() -> bool {
    #[cfg(unix)]
    {
        rustix::process::geteuid().is_root()
    }
    #[cfg(not(unix))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runner_env_keeps_only_allowed_variables_and_its_own() {
        let host = |name: &str| -> Option<OsString> {
            match name {
                "PATH" => Some("/usr/bin:/bin".into()),
                "TZ" => Some("Europe/Paris".into()),
                "HOME" => Some("/root".into()),
                _ => None,
            }
        };
        let env = runner_env(
            vec![
                ("HOME".into(), "/state/home".into()),
                ("TZ".into(), "UTC".into()),
            ],
            host,
        );
        assert_eq!(
            env,
            vec![
                ("PATH".into(), "/usr/bin:/bin".into()),
                ("HOME".into(), "/state/home".into()),
                ("TZ".into(), "UTC".into()),
            ]
        );
    }

    #[test]
    fn secrets_of_the_host_are_not_inherited_whatever_their_name() {
        for name in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_LAMBDA_RUNTIME_API",
            "TELEGRAM_BOT_TOKEN",
            "SERVERLESS_OPENCLAW_TOKEN",
            "ANTHROPIC_API_KEY",
            "SERVERLESS_OPENCLAW_LLM_API_KEY",
        ] {
            assert!(!INHERITED_ENV.contains(&name), "{name}");
        }
        let env = runner_env(Vec::new(), |_| Some("secret".into()));
        let names: Vec<_> = env.iter().map(|(k, _)| k.to_str().unwrap()).collect();
        assert_eq!(names, INHERITED_ENV);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_host_process_becomes_non_dumpable() {
        forbid_inspection().unwrap();
        assert_eq!(
            rustix::process::dumpable_behavior().unwrap(),
            rustix::process::DumpableBehavior::NotDumpable
        );
    }

    #[test]
    fn bubblewrap_hides_the_data_dir_but_the_state_dir_keeps_node_and_drops_the_host_pids() {
        let sandbox = Bubblewrap {
            program: "/usr/bin/bwrap".into(),
            hidden: "/data".into(),
        };
        let (program, args) = sandbox.wrap(
            Path::new("/data/agent"),
            &["/tmp/checkout/node".into(), "/tmp/checkout/runner".into()],
            Path::new("/tmp/checkout/node"),
            &["runner.mjs".into()],
        );
        assert_eq!(program, Path::new("/usr/bin/bwrap"));
        let args: Vec<_> = args.iter().map(|a| a.to_str().unwrap()).collect();
        let joined = args.join(" ");
        for expected in [
            "--unshare-pid",
            "--proc /proc",
            "--tmpfs /tmp",
            "--tmpfs /data --ro-bind /tmp/checkout/node /tmp/checkout/node \
             --ro-bind /tmp/checkout/runner /tmp/checkout/runner --bind /data/agent /data/agent",
            "-- /tmp/checkout/node runner.mjs",
        ] {
            assert!(joined.contains(expected), "{expected} in {joined}");
        }
        assert!(joined.find("--tmpfs /data") > joined.find("--dev-bind / /"));
    }
}
