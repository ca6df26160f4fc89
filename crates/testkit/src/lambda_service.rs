//! The Lambda service around one function, as far as the functions' behaviour depends on it, on top of
//! the Runtime API emulator ([`crate::lambda_runtime`]):
//!
//! - **Execution environments on demand.** Each environment is one bootstrap process on its own
//!   [`RuntimeApi`], frozen while it waits for work, with its own `/tmp` (a fresh directory that the
//!   variables in [`FunctionConfig::tmp_variables`] name). An environment busy with an invocation, or still
//!   initialising for one, takes no other: an invocation that finds no idle environment starts a new
//!   one, whose init phase runs first.
//! - **The init cap.** An environment that has not polled `/next` within [`FunctionConfig::init_timeout`]
//!   (10 s, Lambda's) of its start is killed and initialised again, without the cap, inside its first
//!   invocation (Lambda's "suppressed init"): what a slow init costs.
//! - **SnapStart.** [`LambdaService::publish`] initialises an environment with
//!   `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start` up to its `/runtime/restore/next` call, the snapshot.
//!   The first environment an invocation needs is restored from it: thawed, `/restore/next` answered,
//!   its after-restore hooks run, then the invocation. A failed restore (`/runtime/restore/error`)
//!   fails the invocation with `SnapStartException`.
//! - **The Invoke API** (`POST /2015-03-31/functions/{name}/invocations`: `RequestResponse`, `Event`
//!   answered `202` at once and run in the background, `DryRun`), on its own loopback port, so a
//!   function calling `Invoke` through the real SDK reaches it with `AWS_ENDPOINT_URL_LAMBDA`. Every
//!   invocation is recorded ([`LambdaService::invocations`]); [`LambdaService::set_fault`] makes the
//!   API refuse or hang. A function without a bootstrap only records.
//!
//! What it does not reproduce: CPU and memory isolation between environments (here they share the
//! machine's cores, so two initialising at once slow each other down; on Lambda each has its own
//! share); a real snapshot (one snapshot is restored once, by thawing the process that reached
//! `/restore/next`; a second environment needing a restore initialises and snapshots another one, so
//! its latency is an init's, and environments restored from one snapshot are never byte-for-byte
//! clones, which is why uniqueness after a restore is tested by what the hooks renew, not by comparing
//! clones); the restore phase's own time limit; reclaiming idle environments after minutes; retries of
//! failed asynchronous invocations; signature checks on the Invoke API.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::lambda_runtime::{
    InvocationError, LambdaProcess, OutputLine, REGION, RuntimeApi, RuntimeOptions,
};
use crate::moto::loopback_sdk_config;

/// Lambda's limit on an init phase.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`LambdaService::publish`] waits for a SnapStart init to reach its snapshot.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(300);
const ACCOUNT: &str = "123456789012";

/// One function.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    /// The function's name (in its ARN, and what the Invoke API answers to).
    pub name: String,
    /// The bootstrap binary; `None` only records invocations.
    pub bootstrap: Option<PathBuf>,
    /// The environment on top of Lambda's own (see [`RuntimeApi::spawn_bootstrap`]).
    pub env: Vec<(String, String)>,
    /// The function timeout.
    pub timeout: Duration,
    /// The init phase's limit.
    pub init_timeout: Duration,
    /// SnapStart on: environments are restored from [`LambdaService::publish`]'s snapshot.
    pub snap_start: bool,
    /// Variables set to the environment's own `/tmp` (a fresh directory per environment, removed with
    /// it): each Lambda environment has its own, and two sharing one would see each other's files.
    pub tmp_variables: Vec<String>,
}

impl FunctionConfig {
    /// `name` running `bootstrap` with `env`: a 15-minute timeout, Lambda's init limit, no SnapStart.
    pub fn new(name: &str, bootstrap: impl Into<PathBuf>, env: Vec<(String, String)>) -> Self {
        Self {
            name: name.to_owned(),
            bootstrap: Some(bootstrap.into()),
            env,
            timeout: Duration::from_secs(15 * 60),
            init_timeout: INIT_TIMEOUT,
            snap_start: false,
            tmp_variables: Vec::new(),
        }
    }

    /// A function that only records its invocations.
    pub fn recorder(name: &str) -> Self {
        Self {
            bootstrap: None,
            ..Self::new(name, "", Vec::new())
        }
    }
}

/// How an invocation arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationKind {
    RequestResponse,
    Event,
}

/// One invocation, as recorded.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub kind: InvocationKind,
    pub payload: Value,
    /// The qualifier it named (`:alias` or `?Qualifier=`), if any.
    pub qualifier: Option<String>,
    pub received_at: Instant,
    /// When it finished.
    pub finished_at: Option<Instant>,
    /// The environment that ran it (its index in [`LambdaService::environments`]).
    pub environment: Option<usize>,
    /// Its outcome, once it finished.
    pub outcome: Option<Result<Value, InvocationError>>,
}

/// How the Invoke API misbehaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer every call with this status and `x-amzn-errortype`.
    Refuse { status: u16, error_type: String },
    /// Never answer.
    Hang,
}

/// How an execution environment came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Initialised for an invocation (a cold start).
    OnDemand,
    /// Restored from a SnapStart snapshot.
    Restored,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Availability {
    Busy,
    Idle,
}

/// One execution environment: a bootstrap (two, after an init that hit the cap) on its Runtime API.
pub struct Environment {
    /// Its position in [`LambdaService::environments`], set when it takes its first invocation.
    index: AtomicUsize,
    start: Start,
    api: RuntimeApi,
    /// Every process the environment ran, the live one last. A std mutex: never held across an await.
    processes: Mutex<Vec<Arc<LambdaProcess>>>,
    availability: Mutex<Availability>,
    init_timed_out: AtomicBool,
    /// Its `/tmp`.
    tmp: PathBuf,
    /// What its bootstrap runs with (an init run again gets the same).
    env: Vec<(String, String)>,
}

impl Drop for Environment {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

impl Environment {
    pub fn index(&self) -> usize {
        self.index.load(Ordering::SeqCst)
    }

    pub fn start(&self) -> Start {
        self.start
    }

    /// Whether its first init hit the cap and ran again inside the invocation.
    pub fn init_timed_out(&self) -> bool {
        self.init_timed_out.load(Ordering::SeqCst)
    }

    /// The live (or last) bootstrap process.
    pub fn process(&self) -> Arc<LambdaProcess> {
        Arc::clone(
            self.lock_processes()
                .last()
                .expect("an environment has a process"),
        )
    }

    /// Every line its processes printed, in order.
    pub fn output(&self) -> Vec<OutputLine> {
        self.lock_processes()
            .iter()
            .flat_map(|p| p.output())
            .collect()
    }

    /// Waits until its live process prints a matching line.
    pub async fn wait_for_line(
        &self,
        matches: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> Option<String> {
        self.process().wait_for_line(matches, timeout).await
    }

    fn lock_processes(&self) -> MutexGuard<'_, Vec<Arc<LambdaProcess>>> {
        self.processes.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn alive(&self) -> bool {
        self.process().exit_status().is_none()
    }

    /// Takes the environment for an invocation if it is idle.
    fn take(&self) -> bool {
        let mut availability = self.availability.lock().unwrap_or_else(|p| p.into_inner());
        if *availability == Availability::Idle && self.alive() {
            *availability = Availability::Busy;
            return true;
        }
        false
    }

    fn release(&self) {
        *self.availability.lock().unwrap_or_else(|p| p.into_inner()) = Availability::Idle;
    }

    fn kill(&self) {
        for process in self.lock_processes().iter() {
            if let Some(pid) = process.pid().filter(|_| process.exit_status().is_none()) {
                crate::lambda_runtime::kill_group(pid);
            }
        }
    }
}

/// The emulated service of one function. Dropping it kills every environment and stops the API.
pub struct LambdaService {
    inner: Arc<Inner>,
    endpoint: String,
    shutdown: watch::Sender<bool>,
}

struct Inner {
    config: FunctionConfig,
    environments: Mutex<Vec<Arc<Environment>>>,
    /// SnapStart: the environment frozen at its snapshot, until an invocation restores it.
    snapshot: Mutex<Option<Arc<Environment>>>,
    invocations: watch::Sender<Vec<Invocation>>,
    fault: Mutex<Option<Fault>>,
}

impl LambdaService {
    /// Starts the Invoke API on a free loopback port. No environment runs until an invocation (or,
    /// with SnapStart, [`LambdaService::publish`]).
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start(config: FunctionConfig) -> LambdaService {
        let inner = Arc::new(Inner {
            config,
            environments: Mutex::new(Vec::new()),
            snapshot: Mutex::new(None),
            invocations: watch::Sender::new(Vec::new()),
            fault: Mutex::new(None),
        });
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .expect("bind the Lambda Invoke API emulator to a loopback port");
        let endpoint = format!(
            "http://{}",
            listener
                .local_addr()
                .expect("the bound listener has an address")
        );
        let app = Router::new()
            .route(
                "/2015-03-31/functions/{function}/invocations",
                post(invoke_api),
            )
            .with_state(Arc::clone(&inner));
        let (shutdown, mut stop) = watch::channel(false);
        tokio::spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|stop| *stop).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::warn!(error = %e, "the Lambda Invoke API emulator stopped");
            }
        });
        LambdaService {
            inner,
            endpoint,
            shutdown,
        }
    }

    /// The Invoke API's endpoint, for `AWS_ENDPOINT_URL_LAMBDA`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// An SDK configuration whose endpoint is this Invoke API (test credentials, `us-east-1`).
    pub fn sdk_config(&self) -> SdkConfig {
        loopback_sdk_config(&self.endpoint)
    }

    /// `arn:aws:lambda:us-east-1:123456789012:function:<name>`.
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:lambda:{REGION}:{ACCOUNT}:function:{}",
            self.inner.config.name
        )
    }

    /// Invokes synchronously (as the SQS event source does) and waits for the answer.
    pub async fn invoke(&self, event: Value) -> Result<Value, InvocationError> {
        let index = self
            .inner
            .record(InvocationKind::RequestResponse, event.clone(), None);
        Arc::clone(&self.inner).run(index, event).await
    }

    /// Invokes asynchronously (`Event`): returns the invocation's index at once.
    pub fn invoke_event(&self, event: Value) -> usize {
        self.inner.invoke_event(event, None)
    }

    /// SnapStart: initialises an environment up to its snapshot (`/runtime/restore/next`), which the
    /// next invocation that needs an environment restores. Returns how long that init took.
    pub async fn publish(&self) -> Result<Duration, InvocationError> {
        let (environment, init) = self.inner.snapshot().await?;
        *self
            .inner
            .snapshot
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(environment);
        Ok(init)
    }

    /// Every environment started so far, in order.
    pub fn environments(&self) -> Vec<Arc<Environment>> {
        self.inner.lock_environments().clone()
    }

    /// Every invocation so far, in arrival order.
    pub fn invocations(&self) -> Vec<Invocation> {
        self.inner.invocations.borrow().clone()
    }

    /// Waits until invocation `index` has finished, and returns it.
    pub async fn wait_finished(&self, index: usize, timeout: Duration) -> Option<Invocation> {
        let mut invocations = self.inner.invocations.subscribe();
        let finished = tokio::time::timeout(
            timeout,
            invocations.wait_for(|all| all.get(index).is_some_and(|i| i.outcome.is_some())),
        )
        .await
        .ok()?
        .ok()?;
        finished.get(index).cloned()
    }

    /// Waits until at least `count` invocations arrived.
    pub async fn wait_invocations(&self, count: usize, timeout: Duration) -> Vec<Invocation> {
        let mut invocations = self.inner.invocations.subscribe();
        let _ = tokio::time::timeout(timeout, invocations.wait_for(|all| all.len() >= count)).await;
        self.invocations()
    }

    /// Makes the Invoke API misbehave (`None`: behave).
    pub fn set_fault(&self, fault: Option<Fault>) {
        *self.inner.fault.lock().unwrap_or_else(|p| p.into_inner()) = fault;
    }
}

impl Drop for LambdaService {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
        for environment in self.inner.lock_environments().iter() {
            environment.kill();
        }
        if let Some(snapshot) = self
            .inner
            .snapshot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            snapshot.kill();
        }
    }
}

impl Inner {
    fn lock_environments(&self) -> MutexGuard<'_, Vec<Arc<Environment>>> {
        self.environments.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn record(&self, kind: InvocationKind, payload: Value, qualifier: Option<String>) -> usize {
        let mut index = 0;
        self.invocations.send_modify(|all| {
            index = all.len();
            all.push(Invocation {
                kind,
                payload,
                qualifier,
                received_at: Instant::now(),
                finished_at: None,
                environment: None,
                outcome: None,
            });
        });
        index
    }

    fn invoke_event(self: &Arc<Self>, event: Value, qualifier: Option<String>) -> usize {
        let index = self.record(InvocationKind::Event, event.clone(), qualifier);
        tokio::spawn(Arc::clone(self).run(index, event));
        index
    }

    /// Runs invocation `index` in an environment and records its outcome.
    async fn run(self: Arc<Self>, index: usize, event: Value) -> Result<Value, InvocationError> {
        let outcome = match self.config.bootstrap {
            None => Ok(Value::Null),
            Some(_) => {
                let environment = self.acquire().await;
                self.invocations.send_modify(|all| {
                    all[index].environment = Some(environment.index());
                });
                let outcome = match environment.api.invoke(event, self.config.timeout).await {
                    Err(e) => Err(match environment.api.restore_error() {
                        Some(restore) => InvocationError {
                            error_type: "SnapStartException".into(),
                            error_message: format!("the after-restore hooks failed: {restore}"),
                        },
                        None => e,
                    }),
                    answered => answered,
                };
                environment.release();
                outcome
            }
        };
        self.invocations.send_modify(|all| {
            all[index].outcome = Some(outcome.clone());
            all[index].finished_at = Some(Instant::now());
        });
        outcome
    }

    /// An idle environment, else (SnapStart) a restored one, else a new one initialising.
    async fn acquire(self: &Arc<Self>) -> Arc<Environment> {
        if let Some(idle) = self.lock_environments().iter().find(|e| e.take()) {
            return Arc::clone(idle);
        }
        if self.config.snap_start {
            let published = self
                .snapshot
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            let environment = match published {
                Some(environment) => environment,
                // No snapshot left to restore: this emulator takes another one (see the module doc).
                None => match self.snapshot().await {
                    Ok((environment, _)) => environment,
                    Err(e) => {
                        tracing::error!(error = %e, "the SnapStart init failed");
                        return self.spawn(Start::OnDemand).await;
                    }
                },
            };
            environment.api.restore();
            self.register(&environment);
            return environment;
        }
        self.spawn(Start::OnDemand).await
    }

    /// A new environment, busy with the invocation it is started for, its init phase capped.
    async fn spawn(self: &Arc<Self>, start: Start) -> Arc<Environment> {
        let environment = self.environment(start, None).await;
        let capped = Arc::clone(&environment);
        let limit = self.config.init_timeout;
        let inner = Arc::clone(self);
        tokio::spawn(async move {
            let first = capped.process();
            if capped.api.wait_ready(&first, limit).await.is_some() || !capped.alive() {
                return;
            }
            // Lambda abandons the init and runs it again inside the invocation, without the cap.
            capped.init_timed_out.store(true, Ordering::SeqCst);
            let again = match &inner.config.bootstrap {
                Some(bootstrap) => {
                    capped
                        .api
                        .replace_bootstrap(&first, bootstrap, inner.bootstrap_env(&capped.env))
                        .await
                }
                None => return,
            };
            match again {
                Ok(process) => capped.lock_processes().push(Arc::new(process)),
                Err(e) => tracing::error!(error = %e, "re-running the init failed"),
            }
        });
        self.register(&environment);
        environment
    }

    /// Lists an environment that takes invocations from now on.
    fn register(&self, environment: &Arc<Environment>) {
        let mut environments = self.lock_environments();
        environment
            .index
            .store(environments.len(), Ordering::SeqCst);
        environments.push(Arc::clone(environment));
    }

    /// A new environment on its own Runtime API (frozen while idle), not yet in the list.
    async fn environment(&self, start: Start, extra: Option<(&str, &str)>) -> Arc<Environment> {
        let api = RuntimeApi::start_with(RuntimeOptions {
            freeze_when_idle: true,
        })
        .await;
        let tmp = std::env::temp_dir().join(format!(
            "lambda-environment-{}",
            uuid::Uuid::new_v4().simple()
        ));
        if let Err(e) = std::fs::create_dir_all(&tmp) {
            panic!("creating {}: {e}", tmp.display());
        }
        let mut env = self.config.env.clone();
        env.extend(extra.map(|(k, v)| (k.to_owned(), v.to_owned())));
        env.extend(
            self.config
                .tmp_variables
                .iter()
                .map(|name| (name.clone(), tmp.display().to_string())),
        );
        let process = self
            .bootstrap(&api, &env)
            .unwrap_or_else(|e| panic!("spawning {:?}: {e}", self.config.bootstrap));
        Arc::new(Environment {
            index: AtomicUsize::new(usize::MAX),
            start,
            api,
            processes: Mutex::new(vec![Arc::new(process)]),
            availability: Mutex::new(Availability::Busy),
            init_timed_out: AtomicBool::new(false),
            tmp,
            env,
        })
    }

    fn bootstrap(
        &self,
        api: &RuntimeApi,
        env: &[(String, String)],
    ) -> std::io::Result<LambdaProcess> {
        let bootstrap = self.config.bootstrap.as_ref().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "a recorder has no bootstrap")
        })?;
        api.spawn_bootstrap(bootstrap, self.bootstrap_env(env))
    }

    /// `env` with the function's name, as Lambda defines it.
    fn bootstrap_env(&self, env: &[(String, String)]) -> Vec<(String, String)> {
        let mut env = env.to_vec();
        env.push(("AWS_LAMBDA_FUNCTION_NAME".into(), self.config.name.clone()));
        env
    }

    /// A SnapStart init up to its snapshot: the frozen environment and how long the init took.
    async fn snapshot(&self) -> Result<(Arc<Environment>, Duration), InvocationError> {
        let environment = self
            .environment(
                Start::Restored,
                Some(("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")),
            )
            .await;
        let process = environment.process();
        match environment
            .api
            .wait_snapshot(&process, PUBLISH_TIMEOUT)
            .await
        {
            Some(init) => Ok((environment, init)),
            None => {
                environment.kill();
                Err(environment
                    .api
                    .init_error()
                    .unwrap_or_else(|| InvocationError {
                        error_type: "SnapStartNotReadyException".into(),
                        error_message: "the init did not reach its snapshot".into(),
                    }))
            }
        }
    }
}

/// `POST /2015-03-31/functions/{function}/invocations`.
async fn invoke_api(
    State(inner): State<Arc<Inner>>,
    UrlPath(function): UrlPath<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = inner
        .fault
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    match fault {
        Some(Fault::Refuse { status, error_type }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return api_error(status, &error_type, "refused by the emulator");
        }
        Some(Fault::Hang) => std::future::pending::<()>().await,
        None => {}
    }
    let (name, qualifier) = function_and_qualifier(&function);
    let qualifier = qualifier.or_else(|| query.get("Qualifier").cloned());
    if name != inner.config.name {
        return api_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("Function not found: {function}"),
        );
    }
    let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            "Could not parse request body into json",
        );
    };
    let kind = headers
        .get("x-amz-invocation-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("RequestResponse");
    match kind {
        "Event" => {
            inner.invoke_event(payload, qualifier);
            StatusCode::ACCEPTED.into_response()
        }
        "RequestResponse" => {
            let index = inner.record(InvocationKind::RequestResponse, payload.clone(), qualifier);
            match Arc::clone(&inner).run(index, payload).await {
                Ok(answer) => (StatusCode::OK, axum::Json(answer)).into_response(),
                Err(e) => {
                    let mut response = (
                        StatusCode::OK,
                        axum::Json(
                            json!({"errorType": e.error_type, "errorMessage": e.error_message}),
                        ),
                    )
                        .into_response();
                    response.headers_mut().insert(
                        "x-amz-function-error",
                        HeaderValue::from_static("Unhandled"),
                    );
                    response
                }
            }
        }
        "DryRun" => StatusCode::NO_CONTENT.into_response(),
        other => api_error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            &format!("unknown invocation type {other:?}"),
        ),
    }
}

/// The function name and qualifier of `name[:qualifier]`, `<account>:function:name[:qualifier]` or a
/// full ARN.
fn function_and_qualifier(function: &str) -> (String, Option<String>) {
    let parts: Vec<&str> = function.split(':').collect();
    let after = parts
        .iter()
        .position(|p| *p == "function")
        .map_or(0, |i| i + 1);
    let name = parts.get(after).copied().unwrap_or_default().to_owned();
    let qualifier = parts.get(after + 1).map(|q| (*q).to_owned());
    (name, qualifier)
}

fn api_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let mut response = (
        status,
        axum::Json(json!({"Type": "User", "message": message})),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(error_type) {
        response.headers_mut().insert("x-amzn-errortype", value);
    }
    response
}
