//! moto server for the AWS adapter tests: one process per test binary, started on first use on a free
//! loopback port. It serves DynamoDB, S3, SQS, SSM and Cognito on the same endpoint. Tests isolate
//! themselves by naming their own tables, buckets, queues and pools ([`unique_name`]).
//!
//! The server is found at `$SERVERLESS_OPENCLAW_MOTO_SERVER` or `<repo>/.tools/moto/bin/moto_server`
//! (installed by `make moto`). It runs under a small shell that kills it when the test binary's end of
//! a pipe closes, so no moto process outlives the tests, even though the handle lives in a `static`
//! that is never dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;

/// The region every test uses (moto accepts any).
pub const REGION: &str = "us-east-1";

/// A running moto server.
pub struct Moto {
    endpoint: String,
    /// Holding the child keeps its stdin pipe open; the shell kills moto when the pipe closes.
    process: Child,
}

impl Moto {
    /// The shared server of this test binary, started on first use.
    pub fn shared() -> &'static Moto {
        static MOTO: OnceLock<Moto> = OnceLock::new();
        MOTO.get_or_init(|| Moto::start().unwrap_or_else(|e| panic!("starting moto server: {e}")))
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The process id of the shell that runs moto as its child (benchmarks: moto's memory is that
    /// process tree's).
    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    /// SDK configuration for this server: its endpoint, the test region, dummy credentials.
    pub fn sdk_config(&self) -> SdkConfig {
        loopback_sdk_config(&self.endpoint)
    }

    /// The environment a child process (a Lambda bootstrap) needs to talk to this server.
    pub fn sdk_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", REGION.into()),
            ("AWS_DEFAULT_REGION", REGION.into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_SESSION_TOKEN", "testing".into()),
        ]
    }

    fn start() -> Result<Moto, String> {
        let binary = server_binary();
        if !binary.exists() {
            return Err(format!(
                "{} is missing: run `make moto` (or set SERVERLESS_OPENCLAW_MOTO_SERVER)",
                binary.display()
            ));
        }
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        let script =
            r#""$0" -H 127.0.0.1 -p "$1" >/dev/null 2>&1 & moto=$!; read -r _; kill "$moto""#;
        let child = Command::new("sh")
            .args(["-c", script])
            .arg(&binary)
            .arg(port.to_string())
            // Cognito checks TOTP codes; moto does only when told to.
            .env("MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP", "true")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawning {}: {e}", binary.display()))?;
        let moto = Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            process: child,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if ready(port) {
                return Ok(moto);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!(
            "moto server did not answer on port {port} within 60 s"
        ))
    }
}

/// SDK configuration for an AWS emulator on loopback (moto, the Lambda service emulator): its
/// endpoint, the test region, dummy credentials.
pub fn loopback_sdk_config(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(REGION))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::from_keys(
            "testing", "testing", None,
        )))
        .build()
}

/// A name no other test of this process (or another process) uses: `<prefix>-<pid>-<n>`.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("SERVERLESS_OPENCLAW_MOTO_SERVER") {
        return PathBuf::from(path);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/moto/bin/moto_server")
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn ready(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b"200")
}
