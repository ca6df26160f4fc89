//! `serverless-openclaw`: run the agent on this machine (`local`); register the Telegram webhook of a
//! deployment (`telegram set-webhook`, `telegram delete-webhook`).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serverless_openclaw_agent::{DeploymentKeys, ProviderConfig};
use serverless_openclaw_aws::secrets::{Secret, SsmSecrets};
use serverless_openclaw_cli::{LocalOptions, SandboxMode, TelegramOptions, compose, paths};
use serverless_openclaw_core::ports::ToolAccess;
use serverless_openclaw_telegram::api::DEFAULT_BASE_URL;
use serverless_openclaw_telegram::{BotApi, parse_allowlist};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "serverless-openclaw",
    version,
    about = "Your own OpenClaw agent, on demand."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run everything on this machine and print the URL to open.
    Local {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind: IpAddr,
        /// Port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 8787)]
        port: u16,
        /// Where conversations, transcripts, workspaces and the access token are kept.
        #[arg(long, env = "SERVERLESS_OPENCLAW_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// The Telegram bot of a deployment on AWS.
    Telegram {
        #[command(subcommand)]
        command: TelegramCommand,
    },
}

#[derive(Subcommand)]
enum TelegramCommand {
    /// Point the bot's webhook at a deployment, with a new random secret (stored in SSM for the
    /// webhook function). The bot token is read from SSM, or from TELEGRAM_BOT_TOKEN when set.
    SetWebhook {
        /// The deployment's stack name (its secrets are under /serverless-openclaw/<stack>/).
        #[arg(long)]
        stack: String,
        /// The webhook URL (the stack output TelegramWebhookUrl).
        #[arg(long)]
        url: String,
    },
    /// Remove the bot's webhook (so local mode can long-poll it, or before destroying a deployment).
    /// The token comes from TELEGRAM_BOT_TOKEN, or from the stack's SSM parameter with --stack.
    DeleteWebhook {
        #[arg(long)]
        stack: Option<String>,
    },
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn default_data_dir() -> anyhow::Result<PathBuf> {
    if let Some(xdg) = env_var("XDG_DATA_HOME") {
        return Ok(PathBuf::from(xdg).join("serverless-openclaw"));
    }
    let home = env_var("HOME").context("HOME is not set; pass --data-dir")?;
    Ok(PathBuf::from(home).join(".local/share/serverless-openclaw"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Local {
            bind,
            port,
            data_dir,
        } => local(bind, port, data_dir).await,
        Command::Telegram { command } => telegram(command).await,
    }
}

/// The SSM parameter of one of a stack's secrets (as `make deploy` writes them).
fn stack_parameter(stack: &str, name: &str) -> anyhow::Result<String> {
    let valid = stack.len() <= 128
        && stack.starts_with(|c: char| c.is_ascii_alphabetic())
        && stack
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    anyhow::ensure!(
        valid,
        "{stack:?} is not a stack name (letters, digits and '-', starting with a letter)"
    );
    Ok(format!("/serverless-openclaw/{stack}/{name}"))
}

fn telegram_api_url() -> String {
    env_var("SERVERLESS_OPENCLAW_TELEGRAM_API_URL").unwrap_or_else(|| DEFAULT_BASE_URL.into())
}

/// SSM through the usual AWS environment (loaded only by the commands that need it).
async fn ssm() -> SsmSecrets {
    SsmSecrets::new(&serverless_openclaw_aws::config::load().await)
}

/// The bot token a stack stores (`make deploy` writes it).
async fn stored_token(secrets: &SsmSecrets, stack: &str) -> anyhow::Result<String> {
    let name = stack_parameter(stack, "telegram-bot-token")?;
    let token = secrets
        .get(&name)
        .await
        .with_context(|| format!("reading the bot token ({name})"))?;
    Ok(token.expose().to_owned())
}

async fn telegram(command: TelegramCommand) -> anyhow::Result<()> {
    let env_token = env_var("TELEGRAM_BOT_TOKEN");
    match command {
        TelegramCommand::SetWebhook { stack, url } => {
            anyhow::ensure!(
                url.starts_with("https://"),
                "the webhook URL must be https:// (got {url:?})"
            );
            let secret_name = stack_parameter(&stack, "telegram-webhook-secret")?;
            let secrets = ssm().await;
            // The token first: a rotated secret that never reaches Telegram would lock the webhook out.
            let token = match env_token {
                Some(token) => token,
                None => stored_token(&secrets, &stack).await?,
            };
            let secret = Secret::new(serverless_openclaw_telegram::webhook::generate_secret()?);
            secrets
                .put(&secret_name, &secret)
                .await
                .with_context(|| format!("storing the webhook secret ({secret_name})"))?;
            let api = BotApi::new(&telegram_api_url(), &token);
            api.set_webhook(&url, secret.expose()).await?;
            api.set_my_commands(serverless_openclaw_telegram::command::menu())
                .await
                .context("registering the command menu (the webhook is set; run this again)")?;
            println!("Telegram now sends the bot's updates to {url}");
        }
        TelegramCommand::DeleteWebhook { stack } => {
            let token = match (env_token, stack) {
                (Some(token), _) => token,
                (None, Some(stack)) => stored_token(&ssm().await, &stack).await?,
                (None, None) => anyhow::bail!("set TELEGRAM_BOT_TOKEN or pass --stack"),
            };
            BotApi::new(&telegram_api_url(), &token)
                .delete_webhook()
                .await?;
            println!("The bot's webhook is removed; updates wait for getUpdates (local mode).");
        }
    }
    Ok(())
}

async fn local(bind: IpAddr, port: u16, data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let cwd = std::env::current_dir()?;
    let repo = paths::repo_root(&cwd);
    let path_env = |name: &str| env_var(name).map(PathBuf::from);
    let provider = ProviderConfig::from_env(env_var)?;
    let turn_timeout = match env_var("SERVERLESS_OPENCLAW_TURN_TIMEOUT_SECS") {
        Some(raw) => raw.parse::<u64>().ok().filter(|s| *s > 0).context(
            "SERVERLESS_OPENCLAW_TURN_TIMEOUT_SECS must be a positive number of seconds",
        )?,
        None => 600,
    };
    let options = LocalOptions {
        data_dir: match data_dir {
            Some(dir) => dir,
            None => default_data_dir()?,
        },
        token: env_var("SERVERLESS_OPENCLAW_TOKEN"),
        node: paths::node_binary(path_env("SERVERLESS_OPENCLAW_NODE"), repo.as_deref())?,
        runner_script: paths::runner_script(
            path_env("SERVERLESS_OPENCLAW_RUNNER"),
            repo.as_deref(),
        )?,
        web_dir: paths::web_dir(path_env("SERVERLESS_OPENCLAW_WEB_DIR"), repo.as_deref()),
        turn_timeout: Duration::from_secs(turn_timeout),
        disable_tools: env_var("SERVERLESS_OPENCLAW_DISABLE_TOOLS")
            .is_some_and(|v| v == "1" || v == "true"),
        provider,
        keys: DeploymentKeys::from_env(env_var),
        sandbox: match env_var("SERVERLESS_OPENCLAW_SANDBOX") {
            None => SandboxMode::Auto,
            Some(raw) => SandboxMode::parse(&raw)
                .context("SERVERLESS_OPENCLAW_SANDBOX must be auto, bwrap or off")?,
        },
        guest_tools: match env_var("SERVERLESS_OPENCLAW_GUEST_TOOLS") {
            None => ToolAccess::Restricted,
            Some(raw) => ToolAccess::parse(&raw)
                .context("SERVERLESS_OPENCLAW_GUEST_TOOLS must be restricted or full")?,
        },
        telegram: match env_var("TELEGRAM_BOT_TOKEN") {
            None => None,
            Some(token) => Some(TelegramOptions {
                token,
                api_url: telegram_api_url(),
                allowlist: parse_allowlist(
                    &env_var("SERVERLESS_OPENCLAW_TELEGRAM_ALLOWLIST").unwrap_or_default(),
                )
                .map_err(|e| anyhow::anyhow!("SERVERLESS_OPENCLAW_TELEGRAM_ALLOWLIST: {e}"))?,
            }),
        },
    };
    if options.web_dir.is_none() {
        tracing::warn!(
            "the web UI is not built (web/dist); the API works, the page says how to build it"
        );
    }
    let has_provider = options.provider.is_some();
    let data_dir = options.data_dir.clone();
    let app = compose(options)?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(bind, port))
        .await
        .with_context(|| format!("listening on {bind}:{port}"))?;
    let addr = listener.local_addr()?;
    let host = if bind.is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        addr.ip().to_string()
    };
    tracing::info!(data_dir = %data_dir.display(), "serverless-openclaw local is running");
    println!("Open http://{host}:{}/?token={}", addr.port(), app.token);
    if has_provider {
        // Warm the agent now, as a Lambda would during init, so the first message does not wait for it.
        let runtime = app.runtime.clone();
        tokio::spawn(async move {
            if let Err(e) = runtime.start().await {
                tracing::error!(error = %e, "the agent did not start; the next message will retry");
            }
        });
    } else {
        tracing::warn!("{}", serverless_openclaw_agent::config::NO_PROVIDER_HELP);
    }
    let stop_polling = CancellationToken::new();
    if let Some(bot) = app.telegram.clone() {
        tracing::info!("Telegram: long-polling the bot (TELEGRAM_BOT_TOKEN is set)");
        let cancel = stop_polling.clone();
        tokio::spawn(
            async move { serverless_openclaw_telegram::poll::long_poll(&bot, cancel).await },
        );
    }
    axum::serve(listener, app.router)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    stop_polling.cancel();
    app.runtime.shutdown().await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM, so the runner is stopped cleanly either way.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
