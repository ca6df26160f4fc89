//! A Lambda execution environment imitated on this machine: the agent's container image laid out from
//! its manifest (`docker/agent.image.json`) and a bootstrap run in it under bubblewrap (`bwrap`, Debian's
//! `bubblewrap`), against a [`RuntimeApi`].
//!
//! What it imitates, and how:
//! - the image's file tree: each file of the manifest bind-mounted read-only at its image path from
//!   where `make` installed the same thing on this machine (nothing is copied: `node_modules` is 770 MB);
//!   the system directories (`/usr`, `/etc`, the `/bin`, `/lib` links) are this machine's, read-only;
//! - a read-only file system except `/tmp`, a fresh tmpfs capped at 512 MB (Lambda's default
//!   ephemeral storage); `/dev` is read-only too (Lambda has no writable `/dev/shm`);
//! - the environment and nothing else: the base image's variables (`provided:al2023`), the image's
//!   `ENV` (from the manifest), `_HANDLER` (the image's `CMD`), the function's configuration, then the
//!   variables Lambda reserves ([`RuntimeApi::lambda_environment`]);
//! - a non-root user ([`LAMBDA_UID`]:[`LAMBDA_GID`], Lambda's `sbx_user1051`), one CPU (`taskset`), its
//!   own PID namespace, working directory `/var/task`.
//!
//! As root (the test machine), `bwrap` mounts directly and `setpriv` switches to the Lambda user inside:
//! the function then reads the image as a user that does not own it, as on Lambda, so a file that is
//! not world-readable fails here too. As another user, a user namespace maps that user to the Lambda
//! uid, which owns what it reads (no such check).
//!
//! [`LambdaSandbox::spawn_bootstrap`] returns the same [`LambdaProcess`] as
//! [`RuntimeApi::spawn_bootstrap`]; [`LambdaSandbox::spawn`] runs any program of the sandbox (a probe).
//! [`sandboxed_processes`] and [`mounts`] look into a running sandbox from outside, through `/proc`.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tokio::process::Command;

use crate::lambda_runtime::{LambdaProcess, RuntimeApi};

/// Where Lambda runs a custom runtime from (`/lambda-entrypoint.sh` of the base image executes it).
pub const BOOTSTRAP: &str = "/var/runtime/bootstrap";
/// Lambda's function user, `sbx_user1051`.
pub const LAMBDA_UID: u32 = 993;
pub const LAMBDA_GID: u32 = 990;
/// Lambda's default ephemeral storage, the size of `/tmp`.
pub const TMP_BYTES: u64 = 512 * 1024 * 1024;
/// The agent function's name and memory size (its default, `agentMemoryMb` in infra/lib/settings.ts), as
/// Lambda reports them.
const FUNCTION_NAME: &str = "agent";
pub const AGENT_MEMORY_MB: u32 = 1769;

/// The `ENV` of the base image `public.ecr.aws/lambda/provided:al2023` (its `TZ` is replaced by
/// Lambda's reserved one).
const BASE_IMAGE_ENV: [(&str, &str); 5] = [
    ("LANG", "en_US.UTF-8"),
    (
        "PATH",
        "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
    ),
    (
        "LD_LIBRARY_PATH",
        "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
    ),
    ("LAMBDA_TASK_ROOT", "/var/task"),
    ("LAMBDA_RUNTIME_DIR", "/var/runtime"),
];
/// The base image's `WORKDIR`, where the runtime starts.
const TASK_ROOT: &str = "/var/task";
/// The system folders of this machine the sandbox sees, read-only (links among them stay links).
const SYSTEM_DIRS: [&str; 6] = ["/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64"];

/// An image's file tree and environment, as `docker/<name>.image.json` writes them down (the
/// Dockerfile follows it; `scripts/check-docker-copies.py` checks that).
#[derive(Debug, Clone, Deserialize)]
pub struct ImageManifest {
    pub files: Vec<ImageFile>,
    /// The image's `CMD`.
    pub cmd: Vec<String>,
    /// The image's `ENV`.
    pub env: BTreeMap<String, String>,
}

/// One file (or folder) of the image.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageFile {
    /// Its path in the image.
    pub image: String,
    /// Its source in the build context (the repository root).
    pub context: Option<String>,
    /// Where `make` installs the same thing on this machine, when an earlier stage of the Dockerfile
    /// makes it in the image build.
    pub local: Option<String>,
    /// The command that makes the `context` source just before the image is built.
    pub build_command: Option<Vec<String>>,
    /// Its permissions in the image (octal, as the Dockerfile's `COPY --chmod`), when they are not the
    /// source's.
    pub mode: Option<String>,
}

impl ImageManifest {
    /// Reads a manifest.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", path.display()))
    }

    /// The agent image's manifest, `docker/agent.image.json`.
    ///
    /// # Panics
    /// If it cannot be read: the test cannot run without it.
    pub fn agent() -> Self {
        Self::load(&repo_root().join("docker/agent.image.json")).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A Lambda execution environment of the agent function, laid out from an image manifest.
#[derive(Debug, Clone)]
pub struct LambdaSandbox {
    /// Image path → source on this machine (`None`: built just before the image, see
    /// [`LambdaSandbox::source`]).
    files: BTreeMap<String, Option<PathBuf>>,
    /// Image path → the permissions the image gives it, for files whose source has others.
    modes: BTreeMap<String, u32>,
    image_env: BTreeMap<String, String>,
    handler: String,
    function_env: Vec<(String, String)>,
}

impl LambdaSandbox {
    /// The image of `manifest` with its files taken from this checkout, as the function `agent` with
    /// [`AGENT_MEMORY_MB`].
    pub fn new(manifest: &ImageManifest) -> Self {
        let root = repo_root();
        let files = manifest
            .files
            .iter()
            .map(|file| {
                let source = match (&file.build_command, &file.local, &file.context) {
                    (Some(_), _, _) => None,
                    (None, Some(local), _) => Some(root.join(local)),
                    (None, None, Some(context)) => Some(root.join(context)),
                    (None, None, None) => None,
                };
                (file.image.clone(), source)
            })
            .collect();
        let modes = manifest
            .files
            .iter()
            .filter_map(|file| {
                let mode = file.mode.as_deref()?;
                let mode = u32::from_str_radix(mode, 8)
                    .unwrap_or_else(|_| panic!("{}: mode {mode:?} is not octal", file.image));
                Some((file.image.clone(), mode))
            })
            .collect();
        Self {
            files,
            modes,
            image_env: manifest.env.clone(),
            handler: manifest.cmd.first().cloned().unwrap_or_default(),
            function_env: Vec::new(),
        }
    }

    /// Takes the file at `image_path` from `source`: for a file built just before the image (the
    /// agent's bootstrap, cross-compiled for arm64), this machine's own build of it.
    ///
    /// # Panics
    /// If the manifest has no such file (a mistake in the test).
    pub fn source(mut self, image_path: &str, source: impl Into<PathBuf>) -> Self {
        let entry = self
            .files
            .get_mut(image_path)
            .unwrap_or_else(|| panic!("the image manifest has no {image_path}"));
        *entry = Some(source.into());
        self
    }

    /// Variables of the function's configuration (the CDK app's `environment`), and, in a test, the
    /// endpoint of moto and the credentials Lambda would take from the execution role.
    pub fn envs<K: Into<String>, V: Into<String>>(
        mut self,
        envs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.function_env
            .extend(envs.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// The sandbox's whole environment, sorted by name: the base image's, the image's `ENV`,
    /// `_HANDLER`, the function's configuration, then Lambda's reserved variables (a later one wins, as
    /// on Lambda, where reserved names cannot be configured).
    pub fn environment(&self, api: &RuntimeApi) -> Vec<(String, String)> {
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        let layers = BASE_IMAGE_ENV
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .chain(self.image_env.clone())
            .chain([("_HANDLER".to_owned(), self.handler.clone())])
            .chain(self.function_env.iter().cloned())
            .chain(api.lambda_environment(FUNCTION_NAME, AGENT_MEMORY_MB));
        for (name, value) in layers {
            env.insert(name, value);
        }
        env.into_iter().collect()
    }

    /// The command line that runs `program` (a path inside the sandbox) with `args` in the sandbox:
    /// `taskset`, `bwrap` and its options, and the switch to the Lambda user. The environment is not
    /// part of it (see [`LambdaSandbox::spawn`]).
    ///
    /// Fails if a source is missing (not installed by `make`, or a built file not given).
    pub fn command_line(&self, program: &str, args: &[&str]) -> std::io::Result<Vec<OsString>> {
        let mut line: Vec<OsString> = vec![
            "taskset".into(),
            "--cpu-list".into(),
            first_allowed_cpu()?.into(),
            "bwrap".into(),
            "--unshare-pid".into(),
            // Also when the test process is killed: nothing of the sandbox outlives it.
            "--die-with-parent".into(),
        ];
        for dir in SYSTEM_DIRS {
            let path = Path::new(dir);
            if let Ok(target) = std::fs::read_link(path) {
                line.extend(["--symlink".into(), target.into(), dir.into()]);
            } else if path.exists() {
                line.extend(["--ro-bind".into(), dir.into(), dir.into()]);
            }
        }
        line.extend(
            [
                "--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size",
            ]
            .map(OsString::from),
        );
        line.extend([
            TMP_BYTES.to_string().into(),
            "--tmpfs".into(),
            "/tmp".into(),
        ]);
        // Mount points are made as world-readable folders (bwrap would make missing parents 0700).
        for dir in self.folders() {
            line.extend(["--dir".into(), dir.into()]);
        }
        for (image, source) in &self.files {
            let source = source.as_ref().ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("no source for {image}: it is built just before the image; give this machine's build with LambdaSandbox::source"),
                )
            })?;
            if !source.exists() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!(
                        "{} (for {image}) is missing: run `make runner`",
                        source.display()
                    ),
                ));
            }
            let source = match self.modes.get(image) {
                Some(mode) => with_mode(source, *mode)?,
                None => source.clone(),
            };
            line.extend(["--ro-bind".into(), source.into(), image.into()]);
        }
        line.extend(
            [
                "--remount-ro",
                "/dev",
                "--remount-ro",
                "/",
                "--chdir",
                TASK_ROOT,
            ]
            .map(OsString::from),
        );
        if running_as_root()? {
            // bwrap gives the sandbox no capabilities but these two, which setpriv needs to become
            // the Lambda user; it drops them (and every other) on the way.
            line.extend(
                [
                    "--cap-add",
                    "CAP_SETUID",
                    "--cap-add",
                    "CAP_SETGID",
                    "--",
                    "setpriv",
                    &format!("--reuid={LAMBDA_UID}"),
                    &format!("--regid={LAMBDA_GID}"),
                    "--clear-groups",
                    "--inh-caps=-all",
                    "--bounding-set=-all",
                ]
                .map(OsString::from),
            );
        } else {
            line.extend(
                [
                    "--unshare-user",
                    "--uid",
                    &LAMBDA_UID.to_string(),
                    "--gid",
                    &LAMBDA_GID.to_string(),
                    "--",
                ]
                .map(OsString::from),
            );
        }
        line.push(program.into());
        line.extend(args.iter().map(OsString::from));
        Ok(line)
    }

    /// Starts `program` with `args` in the sandbox as the runtime of this function on `api`.
    pub fn spawn(
        &self,
        api: &RuntimeApi,
        program: &str,
        args: &[&str],
    ) -> std::io::Result<LambdaProcess> {
        let line = self.command_line(program, args)?;
        let mut command = Command::new(&line[0]);
        // The sandbox's environment is bwrap's own, which it passes on, rather than `--setenv`
        // arguments: every process can read a command line (`/proc/1/cmdline`), while the environment
        // of bwrap, root's, is closed to the Lambda user, as Lambda's own init is. Its `PATH` (the base
        // image's) also finds bwrap and setpriv.
        command
            .args(&line[1..])
            .env_clear()
            .envs(self.environment(api));
        api.spawn(FUNCTION_NAME, command)
    }

    /// Starts the image's bootstrap ([`BOOTSTRAP`]) on `api`, as Lambda starts a custom runtime.
    pub fn spawn_bootstrap(&self, api: &RuntimeApi) -> std::io::Result<LambdaProcess> {
        self.spawn(api, BOOTSTRAP, &[])
    }

    /// Every folder above a file of the image, parents first, and the task root.
    fn folders(&self) -> BTreeSet<String> {
        let mut folders: BTreeSet<String> = self
            .files
            .keys()
            .flat_map(|image| {
                Path::new(image)
                    .ancestors()
                    .skip(1)
                    .filter(|dir| *dir != Path::new("/"))
                    .map(|dir| dir.display().to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        folders.insert(TASK_ROOT.to_owned());
        folders
    }
}

/// A process running in a sandbox, seen from outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxedProcess {
    /// Its pid on this machine (not the one inside the sandbox's PID namespace).
    pub pid: u32,
    /// Its parent's pid on this machine.
    pub parent: u32,
    /// Its command line.
    pub cmdline: Vec<String>,
}

impl SandboxedProcess {
    /// A field of `/proc/<pid>/status` (`Uid`, `Cpus_allowed_list`, `NSpid`, …), if it is there.
    pub fn status(&self, field: &str) -> Option<String> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        status.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            (name == field).then(|| value.trim().to_owned())
        })
    }

    /// Its environment (`/proc/<pid>/environ`), sorted by name.
    pub fn environment(&self) -> Vec<(String, String)> {
        let raw = std::fs::read(format!("/proc/{}/environ", self.pid)).unwrap_or_default();
        let mut env: Vec<(String, String)> = raw
            .split(|b| *b == 0)
            .filter_map(|entry| {
                let entry = String::from_utf8_lossy(entry);
                let (name, value) = entry.split_once('=')?;
                Some((name.to_owned(), value.to_owned()))
            })
            .collect();
        env.sort();
        env
    }

    /// The mounts the process sees (`/proc/<pid>/mountinfo`).
    pub fn mounts(&self) -> Vec<Mount> {
        mounts(self.pid)
    }
}

/// Every process of the sandbox started as `process`: its descendants on this machine, parents first
/// (bwrap, its init in the sandbox, then what runs there).
pub fn sandboxed_processes(process: &LambdaProcess) -> Vec<SandboxedProcess> {
    let Some(root) = process.pid() else {
        return Vec::new();
    };
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so split after the last ')'.
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut found: Vec<(u32, u32)> = Vec::new();
    let mut next_parents = vec![root];
    while let Some(parent) = next_parents.pop() {
        for (pid, ppid) in parents.iter().filter(|(_, ppid)| *ppid == parent) {
            found.push((*pid, *ppid));
            next_parents.push(*pid);
        }
    }
    found
        .into_iter()
        .filter_map(|(pid, parent)| {
            let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = raw
                .split(|b| *b == 0)
                .filter(|part| !part.is_empty())
                .map(|part| String::from_utf8_lossy(part).into_owned())
                .collect();
            Some(SandboxedProcess {
                pid,
                parent,
                cmdline,
            })
        })
        .collect()
}

/// One line of `/proc/<pid>/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Where it is mounted, as the process sees it.
    pub mount_point: String,
    /// The per-mount options (`ro`/`rw`, …).
    pub options: Vec<String>,
    pub fs_type: String,
    /// The file system's own options (a tmpfs's `size=…`).
    pub super_options: Vec<String>,
}

impl Mount {
    pub fn read_only(&self) -> bool {
        self.options.iter().any(|o| o == "ro")
    }
}

/// The mounts process `pid` sees.
pub fn mounts(pid: u32) -> Vec<Mount> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            // `id parent major:minor root mount-point options [optional…] - type source super-options`
            let (before, after) = line.split_once(" - ")?;
            let before: Vec<&str> = before.split(' ').collect();
            let after: Vec<&str> = after.split(' ').collect();
            Some(Mount {
                mount_point: before.get(4)?.to_string(),
                options: before.get(5)?.split(',').map(str::to_owned).collect(),
                fs_type: after.first()?.to_string(),
                super_options: after.get(2)?.split(',').map(str::to_owned).collect(),
            })
        })
        .collect()
}

/// The first CPU this process may run on (`taskset` needs one that is allowed).
fn first_allowed_cpu() -> std::io::Result<String> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
        .and_then(|list| list.trim().split([',', '-']).next().map(str::to_owned))
        .ok_or_else(|| std::io::Error::other("no Cpus_allowed_list in /proc/self/status"))
}

/// Whether this process's effective user is root (`/proc/self/status`: `Uid: real effective …`).
fn running_as_root() -> std::io::Result<bool> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    Ok(status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        == Some("0"))
}

fn repo_root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    // Canonical, so the command line names plain paths.
    std::fs::canonicalize(&root).unwrap_or(root)
}

/// A copy of `source` with the permissions `mode`, as the image has it (a bind mount keeps the
/// source's). Kept in the temp dir under a name made of the source's path, size and mode, so the
/// copy is made once, by a rename, whichever test gets there first.
fn with_mode(source: &Path, mode: u32) -> std::io::Result<PathBuf> {
    use std::hash::{Hash, Hasher};
    use std::os::unix::fs::PermissionsExt;
    let size = std::fs::metadata(source)?.len();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (source, size, mode).hash(&mut hasher);
    let dir = std::env::temp_dir().join("serverless-openclaw-sandbox");
    std::fs::create_dir_all(&dir)?;
    let copy = dir.join(format!("{:016x}", hasher.finish()));
    if !copy.exists() {
        // Tests of one process may copy at the same time: each into a temporary file of its own.
        let partial = tempfile::NamedTempFile::new_in(&dir)?;
        std::fs::copy(source, partial.path())?;
        std::fs::set_permissions(partial.path(), std::fs::Permissions::from_mode(mode))?;
        partial.persist(&copy).map_err(|e| e.error)?;
    }
    Ok(copy)
}
