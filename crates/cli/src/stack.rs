//! A deployment's secrets in SSM, for `telegram set-webhook`/`delete-webhook --stack`.
//!
//! Only a build with the `aws` feature reaches SSM (`make deploy` builds one): the AWS SDK is most of
//! the compile time, and local mode (`make run`) does not need it. Without the feature,
//! [`StackSecrets::open`] says how to get a build that has it, and the type has no values.

/// Refuses what cannot be a CloudFormation stack name, before anything is read or written.
fn check_name(stack: &str) -> anyhow::Result<()> {
    let valid = stack.len() <= 128
        && stack.starts_with(|c: char| c.is_ascii_alphabetic())
        && stack
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    anyhow::ensure!(
        valid,
        "{stack:?} is not a stack name (letters, digits and '-', starting with a letter)"
    );
    Ok(())
}

#[cfg(feature = "aws")]
mod imp {
    use anyhow::Context;
    use serverless_openclaw_aws::secrets::SsmSecrets;
    use serverless_openclaw_core::config::Secret;

    /// The secrets of one stack, through SSM and the usual AWS environment.
    pub struct StackSecrets {
        ssm: SsmSecrets,
        bot_token: String,
        webhook_secret: String,
    }

    impl StackSecrets {
        /// Checks the stack name, then loads the AWS configuration.
        pub async fn open(stack: &str) -> anyhow::Result<Self> {
            super::check_name(stack)?;
            // Where `make deploy` writes them.
            Ok(Self {
                ssm: SsmSecrets::new(&serverless_openclaw_aws::config::load().await),
                bot_token: format!("/serverless-openclaw/{stack}/telegram-bot-token"),
                webhook_secret: format!("/serverless-openclaw/{stack}/telegram-webhook-secret"),
            })
        }

        /// The bot token the stack stores.
        pub async fn bot_token(&self) -> anyhow::Result<String> {
            let token = self
                .ssm
                .get(&self.bot_token)
                .await
                .with_context(|| format!("reading the bot token ({})", self.bot_token))?;
            Ok(token.expose().to_owned())
        }

        /// Replaces the secret the webhook function compares Telegram's header with.
        pub async fn store_webhook_secret(&self, secret: &str) -> anyhow::Result<()> {
            self.ssm
                .put(&self.webhook_secret, &Secret::new(secret.to_owned()))
                .await
                .with_context(|| format!("storing the webhook secret ({})", self.webhook_secret))
        }
    }
}

#[cfg(not(feature = "aws"))]
mod imp {
    /// No stack can be reached from a build without the `aws` feature.
    pub enum StackSecrets {}

    impl StackSecrets {
        pub async fn open(stack: &str) -> anyhow::Result<Self> {
            super::check_name(stack)?;
            anyhow::bail!(
                "this serverless-openclaw was built without AWS support (local mode only); run \
                 `cargo run --release -p serverless-openclaw-cli --features aws -- telegram ...` \
                 from the checkout"
            )
        }

        pub async fn bot_token(&self) -> anyhow::Result<String> {
            match *self {}
        }

        pub async fn store_webhook_secret(&self, _secret: &str) -> anyhow::Result<()> {
            match *self {}
        }
    }
}

pub use imp::StackSecrets;
