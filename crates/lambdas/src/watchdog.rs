//! `watchdog` (scheduled, e.g. every 15 minutes): closes the WebSocket connections past their expiry —
//! the sign-in token that opened them has expired, or the client vanished without `$disconnect` — and
//! removes their records; and releases session leases that expired while held — turns
//! whose processor died without releasing (a Lambda killed at its timeout). Each of those is reported:
//! a log line naming the conversation and holder, and the `StuckTurns` metric to alarm on. Their
//! messages are redelivered by SQS or end in the dead-letter queue.

use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use serverless_openclaw_aws::metrics::{Record, Unit};
use serverless_openclaw_aws::push::ApiGatewayPush;
use serverless_openclaw_core::domain::format_time;
use serverless_openclaw_core::ports::{ConnectionStore, SessionLeases};
use time::OffsetDateTime;

use crate::settings::Adapters;
use crate::{Error, Function};

/// The `watchdog` function.
pub struct Watchdog {
    connections: Arc<dyn ConnectionStore>,
    push: Arc<ApiGatewayPush>,
    leases: Arc<dyn SessionLeases>,
}

impl Function for Watchdog {
    type Event = EventBridgeEvent<Value>;
    type Response = Value;

    async fn from_env(adapters: &Adapters) -> Result<Self, Error> {
        let connections: Arc<dyn ConnectionStore> = adapters.connections()?;
        Ok(Self {
            push: adapters.push(connections.clone())?,
            connections,
            leases: adapters.leases()?,
        })
    }

    /// One sweep; returns what it did (also in the log and metrics).
    async fn handle(&self, _event: LambdaEvent<EventBridgeEvent<Value>>) -> Result<Value, Error> {
        let now = OffsetDateTime::now_utc();
        let expired = self.connections.remove_expired(now).await?;
        // A socket still open past its token's expiry gets nothing pushed and has its frames refused;
        // closing it makes the client reconnect with a fresh token (a vanished one is already gone).
        for connection in &expired {
            self.push.close(connection).await;
        }
        let connections = expired.len();
        let stuck = self.leases.clear_expired(now).await?;
        for lease in &stuck {
            tracing::warn!(
                user = %lease.user,
                conversation = %lease.conversation,
                holder = %lease.holder,
                token = lease.token,
                expired_at = %format_time(lease.expires_at),
                "stuck turn: its lease expired while held; released"
            );
        }
        // Only a sweep that did something is a metric: a custom metric costs money for every hour
        // it receives data, and a quiet deployment must cost nothing (the alarm treats no data as OK).
        if connections > 0 || !stuck.is_empty() {
            Record::new("watchdog")
                .metric("ExpiredConnections", connections as f64, Unit::Count)
                .metric("StuckTurns", stuck.len() as f64, Unit::Count)
                .emit();
        }
        Ok(json!({ "expiredConnections": connections, "stuckTurns": stuck.len() }))
    }
}
