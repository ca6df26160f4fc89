//! The AWS world on this machine for the Lambda tests: moto (DynamoDB, S3, SQS FIFO, SSM, Cognito) with
//! fresh tables, bucket, queue and user pool per test; a recorder standing in for the API Gateway
//! Management API; the fake LLM; and the real bootstrap binaries run against a Runtime API emulator,
//! fed real event JSON (the agent also inside a sandbox laid out like its container image). The test
//! plays the parts AWS would: API Gateway (invoking the gateway functions) and the SQS event source
//! mapping (receiving, invoking `agent`, deleting what succeeded).

#![allow(dead_code)] // Each test binary uses a different part of the harness.

use std::path::PathBuf;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use serde_json::{Value, json};
use serverless_openclaw_testkit::apigw::ApiGatewayRecorder;
use serverless_openclaw_testkit::cognito::CognitoPool;
use serverless_openclaw_testkit::fake_llm::FakeLlm;
use serverless_openclaw_testkit::fake_telegram::{FakeTelegram, text_update};
use serverless_openclaw_testkit::fixtures::{self, FifoRecord};
use serverless_openclaw_testkit::lambda_runtime::{LambdaProcess, RuntimeApi};
use serverless_openclaw_testkit::lambda_sandbox::{self, ImageManifest, LambdaSandbox};
use serverless_openclaw_testkit::lambda_service::{FunctionConfig, LambdaService};
use serverless_openclaw_testkit::moto::{Moto, unique_name};

pub const PASSWORD: &str = "Passw0rd!long-enough";
/// The SSM SecureString holding the LLM key; the fake LLM sees what the agent read from it.
pub const LLM_KEY: &str = "sk-test-from-ssm";
pub const TURN_TIMEOUT_SECS: u64 = 180;
/// How long a test waits for one agent invocation: a cold runner start on 2 cores plus a turn.
pub const AGENT_INVOKE: Duration = Duration::from_secs(TURN_TIMEOUT_SECS + 120);
pub const GATEWAY_INVOKE: Duration = Duration::from_secs(30);
/// The turn queue's `maxReceiveCount` (infra/lib/queue.ts).
pub const MAX_RECEIVE_COUNT: u32 = 5;
/// The webhook secret the Telegram functions of [`World::telegram_env`] expect.
pub const TELEGRAM_SECRET: &str = "hook-secret";

/// One test's AWS resources and fakes.
pub struct World {
    pub moto: &'static Moto,
    pub sdk: SdkConfig,
    pub recorder: ApiGatewayRecorder,
    pub pool: CognitoPool,
    pub fake: FakeLlm,
    pub conversations_table: String,
    pub connections_table: String,
    pub leases_table: String,
    pub bucket: String,
    pub queue_url: String,
    /// The turn queue's dead-letter queue.
    pub dead_letters_url: String,
    pub state_dir: tempfile::TempDir,
}

impl World {
    pub async fn create() -> World {
        let moto = Moto::shared();
        let sdk = moto.sdk_config();
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let (conversations_table, connections_table, leases_table) = (
            unique_name("conversations"),
            unique_name("connections"),
            unique_name("leases"),
        );
        serverless_openclaw_aws::conversations::create_table(&dynamodb, &conversations_table)
            .await
            .expect("conversations table");
        serverless_openclaw_aws::connections::create_table(&dynamodb, &connections_table)
            .await
            .expect("connections table");
        serverless_openclaw_aws::leases::create_table(&dynamodb, &leases_table)
            .await
            .expect("leases table");
        let bucket = unique_name("bucket");
        serverless_openclaw_aws::config::s3_client(&sdk)
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("bucket");
        let (queue_url, dead_letters_url) = create_fifo_queue(&sdk).await;
        aws_sdk_ssm::Client::new(&sdk)
            .put_parameter()
            .name(format!("/{}/llm-key", bucket))
            .value(LLM_KEY)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .expect("SSM parameter");
        World {
            moto,
            sdk,
            recorder: ApiGatewayRecorder::start().await,
            pool: CognitoPool::create(moto).await,
            fake: FakeLlm::start().await,
            conversations_table,
            connections_table,
            leases_table,
            bucket,
            queue_url,
            dead_letters_url,
            state_dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The environment every function gets (each reads only what it needs).
    pub fn env(&self) -> Vec<(String, String)> {
        let repo = repo_root();
        let mut env = self.moto_env();
        env.extend(self.resources_env());
        env.extend(self.provider_env());
        let ours = [
            ("SERVERLESS_OPENCLAW_QUEUE_URL", self.queue_url.clone()),
            (
                "SERVERLESS_OPENCLAW_COGNITO_USER_POOL_ID",
                self.pool.pool_id.clone(),
            ),
            (
                "SERVERLESS_OPENCLAW_COGNITO_CLIENT_ID",
                self.pool.client_id.clone(),
            ),
            ("SERVERLESS_OPENCLAW_COGNITO_JWKS_URL", self.pool.jwks_url()),
            (
                "SERVERLESS_OPENCLAW_STATE_DIR",
                self.state_dir.path().display().to_string(),
            ),
            (
                "SERVERLESS_OPENCLAW_NODE",
                repo.join(".tools/node/node_modules/node/bin/node")
                    .display()
                    .to_string(),
            ),
            (
                "SERVERLESS_OPENCLAW_RUNNER",
                repo.join("runner/runner.mjs").display().to_string(),
            ),
            ("RUST_LOG", "info".into()),
        ];
        env.extend(ours.into_iter().map(|(k, v)| (k.to_owned(), v)));
        env
    }

    /// The agent function's configuration as the CDK app sets it (infra/lib/agent.ts, deployed with
    /// `llmProvider=compatible`), pointed at this world, plus what reaches moto: its endpoint and the
    /// credentials Lambda would take from the execution role. The paths of Node, the runner and the
    /// state come from the image (`ENV` of docker/agent.image.json), not from here. The Telegram token
    /// parameter is named but holds nothing, as in a deployment without a bot.
    pub fn agent_function_env(&self) -> Vec<(String, String)> {
        let mut env = self.moto_env();
        env.extend(self.resources_env());
        env.extend(self.provider_env());
        env.push((
            "SERVERLESS_OPENCLAW_TELEGRAM_TOKEN_PARAMETER".to_owned(),
            format!("/{}/telegram-bot-token", self.bucket),
        ));
        env.push((
            "SERVERLESS_OPENCLAW_QUEUE_URL".to_owned(),
            self.queue_url.clone(),
        ));
        env
    }

    /// The agent as Lambda runs its container image: the file tree of docker/agent.image.json in a
    /// [`LambdaSandbox`], with `bootstrap` (this workspace's build of the `agent` bin: the image's is
    /// an arm64 build) as `/var/runtime/bootstrap`, and the function's configuration.
    pub fn agent_sandbox(&self, bootstrap: &str) -> LambdaSandbox {
        LambdaSandbox::new(&ImageManifest::agent())
            .source(lambda_sandbox::BOOTSTRAP, bootstrap)
            .envs(self.agent_function_env())
    }

    /// Starts the bootstrap of `sandbox` on its own Runtime API.
    pub async fn function_in(&self, sandbox: &LambdaSandbox) -> Function {
        let api = RuntimeApi::start().await;
        let process = sandbox
            .spawn_bootstrap(&api)
            .unwrap_or_else(|e| panic!("starting the sandbox: {e}"));
        Function { api, process }
    }

    fn moto_env(&self) -> Vec<(String, String)> {
        self.moto
            .sdk_env()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    }

    /// The variables naming this world's tables, bucket, Management API endpoint, users' keys path and
    /// turn deadline.
    fn resources_env(&self) -> Vec<(String, String)> {
        [
            (
                "SERVERLESS_OPENCLAW_CONVERSATIONS_TABLE",
                self.conversations_table.clone(),
            ),
            (
                "SERVERLESS_OPENCLAW_CONNECTIONS_TABLE",
                self.connections_table.clone(),
            ),
            (
                "SERVERLESS_OPENCLAW_LEASES_TABLE",
                self.leases_table.clone(),
            ),
            ("SERVERLESS_OPENCLAW_BUCKET", self.bucket.clone()),
            (
                "SERVERLESS_OPENCLAW_WEBSOCKET_ENDPOINT",
                self.recorder.endpoint().to_owned(),
            ),
            (
                "SERVERLESS_OPENCLAW_USER_KEYS_PATH",
                format!("/{}/users", self.bucket),
            ),
            (
                "SERVERLESS_OPENCLAW_TURN_TIMEOUT_SECS",
                TURN_TIMEOUT_SECS.to_string(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// The deployment's provider: an Anthropic Messages endpoint (the fake LLM), its model and the SSM
    /// parameter of its key; users' endpoints may be private, since the fake LLM is on loopback.
    fn provider_env(&self) -> Vec<(String, String)> {
        [
            ("SERVERLESS_OPENCLAW_ALLOW_PRIVATE_ENDPOINTS", "true".into()),
            (
                "SERVERLESS_OPENCLAW_LLM_BASE_URL",
                self.fake.anthropic_base_url(),
            ),
            ("SERVERLESS_OPENCLAW_LLM_API", "anthropic-messages".into()),
            ("SERVERLESS_OPENCLAW_MODEL", "fake-model".into()),
            (
                "SERVERLESS_OPENCLAW_LLM_API_KEY_PARAMETER",
                format!("/{}/llm-key", self.bucket),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Starts the release-or-debug bootstrap `bin` (a `CARGO_BIN_EXE_*` path) on its own Runtime API.
    pub async fn function(&self, bin: &str) -> Function {
        self.function_with(bin, &[]).await
    }

    /// The same, with more environment variables.
    pub async fn function_with(&self, bin: &str, extra: &[(&str, String)]) -> Function {
        let api = RuntimeApi::start().await;
        let mut env = self.env();
        env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        let process = api
            .spawn_bootstrap(bin, env)
            .unwrap_or_else(|e| panic!("spawning {bin}: {e}"));
        Function { api, process }
    }

    /// The agent bootstrap `bin` on the Lambda service emulator: environments started per concurrent
    /// invocation and frozen while idle, Lambda's 10 s init cap, and with `snap_start` a snapshot
    /// taken by `publish` and restored by the first invocation.
    pub async fn agent_service(&self, bin: &str, snap_start: bool) -> LambdaService {
        self.agent_service_with(bin, snap_start, &[]).await
    }

    /// The same, with more environment variables.
    pub async fn agent_service_with(
        &self,
        bin: &str,
        snap_start: bool,
        extra: &[(&str, String)],
    ) -> LambdaService {
        let mut env = self.env();
        env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        let mut config = FunctionConfig::new("agent", bin, env);
        config.timeout = AGENT_INVOKE;
        config.snap_start = snap_start;
        config.tmp_variables = vec!["SERVERLESS_OPENCLAW_STATE_DIR".into()];
        LambdaService::start(config).await
    }

    /// What the Telegram functions (`telegram-webhook`, `agent`) need to reach `telegram`: its bot token
    /// and the webhook secret [`TELEGRAM_SECRET`] in SSM, its URL, no allowlist.
    pub async fn telegram_env(&self, telegram: &FakeTelegram) -> Vec<(&'static str, String)> {
        vec![
            (
                "SERVERLESS_OPENCLAW_TELEGRAM_TOKEN_PARAMETER",
                self.secret("telegram-bot-token", telegram.token()).await,
            ),
            (
                "SERVERLESS_OPENCLAW_TELEGRAM_SECRET_PARAMETER",
                self.secret("telegram-webhook-secret", TELEGRAM_SECRET)
                    .await,
            ),
            ("SERVERLESS_OPENCLAW_TELEGRAM_API_URL", telegram.base_url()),
            ("SERVERLESS_OPENCLAW_TELEGRAM_ALLOWLIST", String::new()),
        ]
    }

    /// Links the Telegram user `telegram_user` to the Cognito user `sub` as the owner does: a link
    /// code from `http` (`http-api`), sent as `/link CODE` (update `update_id`) through `webhook`.
    pub async fn link_telegram(
        &self,
        http: &Function,
        webhook: &Function,
        sub: &str,
        telegram_user: i64,
        update_id: i64,
    ) {
        let issued = http
            .invoke(
                fixtures::http_v2("POST", "/api/telegram/link-code", &[], None, sub),
                GATEWAY_INVOKE,
            )
            .await;
        assert_eq!(issued["statusCode"], 201, "{issued}");
        let code: Value = serde_json::from_str(issued["body"].as_str().unwrap()).unwrap();
        let link = text_update(
            update_id,
            telegram_user,
            &format!("/link {}", code["code"].as_str().unwrap()),
        );
        webhook.telegram_update(&link).await;
    }

    /// Stores (or replaces) a SecureString parameter under this world's prefix; returns its name.
    pub async fn secret(&self, name: &str, value: &str) -> String {
        let parameter = format!("/{}/{name}", self.bucket);
        aws_sdk_ssm::Client::new(&self.sdk)
            .put_parameter()
            .name(&parameter)
            .value(value)
            .overwrite(true)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .expect("SSM parameter");
        parameter
    }

    /// A Cognito user and a real ID token for it; returns `(sub, token)`.
    pub async fn user(&self, name: &str) -> (String, String) {
        let sub = self.pool.create_user(name, PASSWORD).await;
        let token = self.pool.id_token(name, PASSWORD).await;
        (sub, token)
    }

    /// Receives up to `max` turns from the queue at `queue_url` (waiting up to `wait`) as the SQS
    /// event source would hand them to the agent: the event with real receipt handles, and the
    /// messages. The event is `None` when nothing was received.
    pub async fn receive_turns_within(
        &self,
        queue_url: &str,
        max: i32,
        wait: i32,
    ) -> Option<(Value, Vec<aws_sdk_sqs::types::Message>)> {
        let received = aws_sdk_sqs::Client::new(&self.sdk)
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(max)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .wait_time_seconds(wait)
            .send()
            .await
            .expect("receive");
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return None;
        }
        let records: Vec<FifoRecord<'_>> = messages
            .iter()
            .map(|m| {
                let attribute = |name: MessageSystemAttributeName| {
                    m.attributes()
                        .and_then(|a| a.get(&name))
                        .map(String::as_str)
                        .unwrap_or_default()
                };
                FifoRecord {
                    message_id: m.message_id().unwrap_or_default(),
                    body: m.body().unwrap_or_default(),
                    group_id: attribute(MessageSystemAttributeName::MessageGroupId),
                    dedup_id: attribute(MessageSystemAttributeName::MessageDeduplicationId),
                    receive_count: attribute(MessageSystemAttributeName::ApproximateReceiveCount)
                        .parse()
                        .unwrap_or(1),
                }
            })
            .collect();
        let mut event = fixtures::sqs_fifo(&records);
        for (record, message) in event["Records"]
            .as_array_mut()
            .expect("records")
            .iter_mut()
            .zip(&messages)
        {
            record["receiptHandle"] = json!(message.receipt_handle().unwrap_or_default());
        }
        Some((event, messages))
    }

    /// [`World::receive_turns_within`] with a 1 s wait, expecting at least one turn.
    pub async fn receive_turns(
        &self,
        queue_url: &str,
        max: i32,
    ) -> (Value, Vec<aws_sdk_sqs::types::Message>) {
        self.receive_turns_within(queue_url, max, 1)
            .await
            .expect("no queued turn to deliver")
    }

    /// Plays the turn queue's SQS event source mapping once: receives up to `max` visible messages,
    /// invokes `agent` with them as one event, deletes those not reported as failures. Returns the
    /// agent's response.
    pub async fn deliver(&self, agent: &impl TurnConsumer, max: i32) -> Value {
        self.deliver_from(&self.queue_url, agent, max).await
    }

    /// The same for the queue at `queue_url`. The event carries the real receipt handles, so the
    /// consumer can change a message's visibility as it would on AWS.
    pub async fn deliver_from(
        &self,
        queue_url: &str,
        consumer: &impl TurnConsumer,
        max: i32,
    ) -> Value {
        self.deliver_within(queue_url, consumer, max, 1)
            .await
            .expect("no queued turn to deliver")
    }

    /// The same, waiting up to `wait` seconds for a turn; `None` when none came.
    pub async fn deliver_within(
        &self,
        queue_url: &str,
        consumer: &impl TurnConsumer,
        max: i32,
        wait: i32,
    ) -> Option<Value> {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let (event, messages) = self.receive_turns_within(queue_url, max, wait).await?;
        let response = consumer.take_turns(event).await;
        let failed: Vec<&str> = response["batchItemFailures"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f["itemIdentifier"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        for message in &messages {
            if !failed.contains(&message.message_id().unwrap_or_default()) {
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(message.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("delete");
            }
        }
        Some(response)
    }

    /// The stored transcript of a conversation, as JSONL text.
    pub async fn transcript(&self, sub: &str, conversation: &str) -> String {
        let object = serverless_openclaw_aws::config::s3_client(&self.sdk)
            .get_object()
            .bucket(&self.bucket)
            .key(format!("transcripts/{sub}/{conversation}.jsonl"))
            .send()
            .await
            .expect("transcript object");
        let bytes = object.body.collect().await.expect("body").into_bytes();
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }
}

/// What the SQS event source invokes with a batch of turns.
pub trait TurnConsumer {
    /// Invokes with `event` and expects an answer.
    fn take_turns(&self, event: Value) -> impl std::future::Future<Output = Value>;
}

impl TurnConsumer for Function {
    async fn take_turns(&self, event: Value) -> Value {
        self.invoke(event, AGENT_INVOKE).await
    }
}

impl TurnConsumer for LambdaService {
    async fn take_turns(&self, event: Value) -> Value {
        self.invoke(event)
            .await
            .unwrap_or_else(|e| panic!("the agent failed: {e:?}"))
    }
}

/// A running bootstrap and its Runtime API.
pub struct Function {
    pub api: RuntimeApi,
    pub process: LambdaProcess,
}

impl Function {
    /// Invokes and expects success.
    pub async fn invoke(&self, event: Value, timeout: Duration) -> Value {
        match self.api.invoke(event, timeout).await {
            Ok(response) => response,
            Err(e) => panic!(
                "invocation failed: {e:?}\n--- output ---\n{}",
                self.process
                    .output()
                    .iter()
                    .map(|l| format!("{l:?}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        }
    }

    /// As `telegram-webhook`: Telegram posts `update` with the right secret; expects 200.
    pub async fn telegram_update(&self, update: &Value) {
        let answered = self
            .invoke(
                telegram_webhook_event(update, Some(TELEGRAM_SECRET)),
                GATEWAY_INVOKE,
            )
            .await;
        assert_eq!(answered["statusCode"], 200, "{answered}");
    }

    /// As `ws-connect`: opens `connection` with the user's ID `token`.
    pub async fn connect_with(&self, connection: &str, token: &str) -> Value {
        self.invoke(
            fixtures::ws_connect(connection, Some(token)),
            GATEWAY_INVOKE,
        )
        .await
    }

    /// As `ws-message`: the user on `connection` sends `text` to `conversation`.
    pub async fn send_on(
        &self,
        connection: &str,
        conversation: &str,
        client_message_id: &str,
        text: &str,
    ) -> Value {
        self.invoke(
            fixtures::ws_message(
                connection,
                &send_frame(conversation, client_message_id, text),
            ),
            GATEWAY_INVOKE,
        )
        .await
    }
}

/// What a gateway function needs to wake `agent` through its Invoke API.
pub fn waking(agent: &LambdaService) -> [(&'static str, String); 2] {
    [
        ("SERVERLESS_OPENCLAW_AGENT_FUNCTION", "agent".to_owned()),
        ("AWS_ENDPOINT_URL_LAMBDA", agent.endpoint().to_owned()),
    ]
}

pub fn send_frame(conversation: &str, client_message_id: &str, text: &str) -> String {
    json!({
        "action": "sendMessage",
        "conversationId": conversation,
        "clientMessageId": client_message_id,
        "message": text,
    })
    .to_string()
}

/// An HTTP API request to the unauthenticated webhook route, as API Gateway sends Telegram's POST.
pub fn telegram_webhook_event(update: &Value, secret: Option<&str>) -> Value {
    let mut event = fixtures::http_v2(
        "POST",
        "/telegram/webhook",
        &[],
        Some(&update.to_string()),
        "",
    );
    event["requestContext"]
        .as_object_mut()
        .expect("object")
        .remove("authorizer");
    if let Some(secret) = secret {
        event["headers"]["x-telegram-bot-api-secret-token"] = secret.into();
    }
    event
}

/// Frames of `kind` posted to a connection.
pub fn frames_of(recorder: &ApiGatewayRecorder, connection: &str, kind: &str) -> Vec<Value> {
    recorder
        .frames(connection)
        .into_iter()
        .filter(|f| f["type"] == kind)
        .collect()
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The turn queue and its dead-letter queue as the CDK app declares them (infra/lib/queue.ts); returns
/// their URLs.
async fn create_fifo_queue(sdk: &SdkConfig) -> (String, String) {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let dlq = sqs
        .create_queue()
        .queue_name(format!("{}.fifo", unique_name("turns-dlq")))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .expect("dead-letter queue");
    let dlq_url = dlq.queue_url().unwrap_or_default().to_owned();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("dlq attributes")
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .expect("dlq arn");
    // Per-group dedupe scope, so one user's ids never suppress another's; visibility six times the
    // agent's 15 minutes; five receives before the dead-letter queue.
    let queue_url = sqs
        .create_queue()
        .queue_name(format!("{}.fifo", unique_name("turns")))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .attributes(QueueAttributeName::DeduplicationScope, "messageGroup")
        .attributes(QueueAttributeName::FifoThroughputLimit, "perMessageGroupId")
        .attributes(QueueAttributeName::VisibilityTimeout, "5400")
        .attributes(
            QueueAttributeName::RedrivePolicy,
            json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT })
                .to_string(),
        )
        .send()
        .await
        .expect("turn queue")
        .queue_url()
        .expect("queue url")
        .to_owned();
    (queue_url, dlq_url)
}
