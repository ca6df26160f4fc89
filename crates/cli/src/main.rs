//! `serverless-openclaw`: run the agent on this machine (`local`); register the Telegram webhook of a
//! deployment (`telegram set-webhook`, `telegram delete-webhook`).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serverless_openclaw_cli::stack::StackSecrets;
use serverless_openclaw_cli::{LocalOptions, RuntimeKind, compose, paths, telegram_api_url};
use serverless_openclaw_core::config::Env;
use serverless_openclaw_server::serve::{Limits, serve};
use serverless_openclaw_telegram::BotApi;
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
        /// What runs the owner's turns: `runner` (the embedded agent, as on Lambda) or `gateway`
        /// (OpenClaw's own gateway); overrides SERVERLESS_OPENCLAW_RUNTIME.
        #[arg(long, value_parser = ["runner", "gateway"])]
        runtime: Option<String>,
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

fn default_data_dir() -> anyhow::Result<PathBuf> {
    if let Some(xdg) = Env::process().optional("XDG_DATA_HOME") {
        return Ok(PathBuf::from(xdg).join("serverless-openclaw"));
    }
    let home = Env::process()
        .optional("HOME")
        .context("HOME is not set; pass --data-dir")?;
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
            runtime,
        } => local(bind, port, data_dir, runtime).await,
        Command::Telegram { command } => telegram(command).await,
    }
}

async fn telegram(command: TelegramCommand) -> anyhow::Result<()> {
    let env_token = Env::process().optional("TELEGRAM_BOT_TOKEN");
    match command {
        TelegramCommand::SetWebhook { stack, url } => {
            anyhow::ensure!(
                url.starts_with("https://"),
                "the webhook URL must be https:// (got {url:?})"
            );
            let stack = StackSecrets::open(&stack).await?;
            // The token first: a rotated secret that never reaches Telegram would lock the webhook out.
            let token = match env_token {
                Some(token) => token,
                None => stack.bot_token().await?,
            };
            let secret = serverless_openclaw_telegram::webhook::generate_secret()?;
            stack.store_webhook_secret(&secret).await?;
            let api = BotApi::new(&telegram_api_url(Env::process()), &token);
            api.set_webhook(&url, &secret).await?;
            api.set_my_commands(serverless_openclaw_telegram::command::menu())
                .await
                .context("registering the command menu (the webhook is set; run this again)")?;
            println!("Telegram now sends the bot's updates to {url}");
        }
        TelegramCommand::DeleteWebhook { stack } => {
            let token = match (env_token, stack) {
                (Some(token), _) => token,
                (None, Some(stack)) => StackSecrets::open(&stack).await?.bot_token().await?,
                (None, None) => anyhow::bail!("set TELEGRAM_BOT_TOKEN or pass --stack"),
            };
            BotApi::new(&telegram_api_url(Env::process()), &token)
                .delete_webhook()
                .await?;
            println!("The bot's webhook is removed; updates wait for getUpdates (local mode).");
        }
    }
    Ok(())
}

async fn local(
    bind: IpAddr,
    port: u16,
    data_dir: Option<PathBuf>,
    runtime: Option<String>,
) -> anyhow::Result<()> {
    let repo = paths::repo_root(&std::env::current_dir()?);
    let data_dir = match data_dir {
        Some(dir) => dir,
        None => default_data_dir()?,
    };
    let mut options = LocalOptions::from_env(Env::process(), data_dir, repo.as_deref())?;
    if let Some(kind) = runtime.as_deref().and_then(RuntimeKind::parse) {
        options.runtime = kind;
    }
    if bind.is_unspecified() {
        tracing::info!(
            "listening on every address: to open the page by this machine's name or LAN address, add it \
             to SERVERLESS_OPENCLAW_ALLOWED_HOSTS (other names are refused with 403)"
        );
    } else {
        options.allowed_hosts.push(bind.to_string());
    }
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
    println!(
        "Open http://{host}:{}/?token={}",
        addr.port(),
        app.token.expose()
    );
    if has_provider {
        // Warm the agent now, as a Lambda would during init, so the first message does not wait for it.
        let (runtime, gateway) = (app.runtime.clone(), app.gateway.clone());
        tokio::spawn(async move {
            let started = match gateway {
                Some(gateway) => gateway.start().await,
                None => runtime.start().await.map(drop),
            };
            if let Err(e) = started {
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
    serve(
        listener,
        app.router,
        Limits::for_this_process(),
        shutdown_signal(),
    )
    .await;
    stop_polling.cancel();
    if let Some(gateway) = &app.gateway {
        gateway.shutdown().await;
    }
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
