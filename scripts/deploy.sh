#!/usr/bin/env bash
# `make deploy`: one command from a clone to a running deployment in the AWS account of your
# credentials (docs/deployment.md). Checks prerequisites (scripts/doctor.sh), asks for what it does
# not know yet, stores the secrets as SSM SecureStrings (never in the repo or the template), builds
# the web app, brings the CDK bootstrap stack up to date, lets `cdk deploy` build the Rust functions
# and the agent's bootstrap (cargo-lambda, cross-compiled for arm64 on this machine) and the agent
# image around that bootstrap (Docker, no Rust inside), registers the Telegram webhook when a bot
# token is stored, and prints the web URL, the owner's first sign-in steps and whether the alarm
# email is confirmed. Running it again updates the stack. Without a terminal (stdin not a tty) it asks
# nothing: what the first deploy needs must then be set in the environment.
#
# Settings (environment variables; asked for when needed and not set):
#   OWNER_EMAIL             the owner's email (first deploy): user name, temporary password, alarms
#   LLM_PROVIDER            anthropic (default) | openai | compatible
#   SERVERLESS_OPENCLAW_LLM_API_KEY   the provider's API key (asked on the first deploy; Enter keeps it later)
#   TELEGRAM_BOT_TOKEN      optional; stored for the Telegram bot (Enter keeps the stored one)
#   TELEGRAM_ALLOWLIST      Telegram user ids the bot accepts, comma-separated (e.g. 12345,67890)
#   MODEL, LLM_BASE_URL, LLM_API      the model and, for `compatible`, the endpoint
#   MONTHLY_BUDGET_USD      the AWS Budgets alert (default 10)
#   AGENT_RUNTIME           lambda (default)
#   SNAP_START              true: the agent runs from SnapStart snapshots (a monthly charge, docs/cost.md)
#   ASSET_GC                0: keep unused agent images in the CDK bootstrap's ECR repository (`cdk gc`)
#   SERVERLESS_OPENCLAW_STACK         the stack name (default ServerlessOpenClaw)
set -euo pipefail
# shellcheck source=scripts/aws-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/aws-env.sh"
cd "$ROOT"

"$ROOT/scripts/doctor.sh"
use_tool cargo-lambda cargo-lambda
AWS_REGION="$(aws_region)"
export AWS_REGION
account="$(aws sts get-caller-identity --query Account --output text)"
rustup target add aarch64-unknown-linux-gnu >/dev/null

LLM_PROVIDER="${LLM_PROVIDER:-anthropic}"
case "$LLM_PROVIDER" in
  anthropic) key_name=anthropic-api-key ;;
  openai) key_name=openai-api-key ;;
  compatible) key_name=llm-api-key ;;
  *) echo "LLM_PROVIDER must be anthropic, openai or compatible (got '$LLM_PROVIDER')" >&2; exit 1 ;;
esac

# Writes a SecureString through a private temporary file, so the value never appears in a process list.
put_secret() {
  local name="$1" value="$2" file
  file="$(mktemp)"
  chmod 600 "$file"
  printf '%s' "$value" > "$file"
  aws ssm put-parameter --name "$name" --type SecureString --overwrite --value "file://$file" >/dev/null
  rm -f "$file"
  echo "Stored $name (SecureString)."
}

# Stops with what to set when there is no terminal to ask on.
need_terminal() {
  [ -t 0 ] || { echo "No terminal to ask on: set $1." >&2; exit 1; }
}

# Asks on the terminal without echo; prints the answer.
ask_secret() {
  local prompt="$1" answer
  read -r -s -p "$prompt" answer </dev/tty
  echo >/dev/tty
  printf '%s' "$answer"
}

# `cdk deploy` arguments for the stack's parameters; empty on a redeploy that changes none (expanded
# as ${parameters[@]+"${parameters[@]}"}: bash 3.2 calls a plain "${parameters[@]}" of an empty
# array unbound under `set -u`).
parameters=()
first_deploy=0
if stack_exists "$STACK"; then
  echo "Updating stack $STACK in $AWS_REGION."
  if [ -n "${OWNER_EMAIL:-}" ]; then parameters+=(--parameters "OwnerEmail=$OWNER_EMAIL"); fi
else
  first_deploy=1
  echo "Creating stack $STACK in $AWS_REGION."
  if [ -z "${OWNER_EMAIL:-}" ]; then
    need_terminal OWNER_EMAIL
    read -r -p "Owner email (your sign-in name): " OWNER_EMAIL </dev/tty
  fi
  if [[ ! "$OWNER_EMAIL" =~ ^[^[:space:]@]+@[^[:space:]@]+\.[^[:space:]@]+$ ]]; then
    echo "OWNER_EMAIL must be an email address (got '$OWNER_EMAIL')." >&2
    exit 1
  fi
  parameters+=(--parameters "OwnerEmail=$OWNER_EMAIL")
fi
if [ -n "${MONTHLY_BUDGET_USD:-}" ]; then parameters+=(--parameters "MonthlyBudgetUsd=$MONTHLY_BUDGET_USD"); fi

key_parameter="$SECRETS_PATH/$key_name"
api_key="${SERVERLESS_OPENCLAW_LLM_API_KEY:-}"
if [ -z "$api_key" ]; then
  if parameter_exists "$key_parameter"; then
    if [ -t 0 ]; then api_key="$(ask_secret "$LLM_PROVIDER API key (Enter keeps the stored one): ")"; fi
  else
    need_terminal SERVERLESS_OPENCLAW_LLM_API_KEY
    api_key="$(ask_secret "$LLM_PROVIDER API key: ")"
    [ -n "$api_key" ] || { echo "An API key is needed for $LLM_PROVIDER." >&2; exit 1; }
  fi
fi
if [ -n "$api_key" ]; then put_secret "$key_parameter" "$api_key"; fi

telegram_token="${TELEGRAM_BOT_TOKEN:-}"
if [ -z "$telegram_token" ] && [ -t 0 ]; then
  telegram_token="$(ask_secret "Telegram bot token (optional, Enter skips): ")"
fi
if [ -n "$telegram_token" ]; then put_secret "$SECRETS_PATH/telegram-bot-token" "$telegram_token"; fi

context=(-c "stackName=$STACK" -c "agentRuntime=${AGENT_RUNTIME:-lambda}" -c "llmProvider=$LLM_PROVIDER")
if [ -n "${MODEL:-}" ]; then context+=(-c "model=$MODEL"); fi
if [ -n "${LLM_BASE_URL:-}" ]; then context+=(-c "llmBaseUrl=$LLM_BASE_URL"); fi
if [ -n "${LLM_API:-}" ]; then context+=(-c "llmApi=$LLM_API"); fi
if [ -n "${TELEGRAM_ALLOWLIST:-}" ]; then context+=(-c "telegramAllowlist=$TELEGRAM_ALLOWLIST"); fi
if [ -n "${SNAP_START:-}" ]; then context+=(-c "snapStart=$SNAP_START"); fi

make --no-print-directory web infra
cd infra
# Every deploy: `cdk bootstrap` creates the bootstrap stack or brings an old one up to the version this
# aws-cdk-lib needs, and changes nothing when it is current. It names the environment of these
# credentials; it also synthesizes the app, without building the functions (cdk deploy builds them).
SERVERLESS_OPENCLAW_SKIP_BUNDLING=1 npx cdk bootstrap --no-notices "aws://$account/$AWS_REGION"
npx cdk deploy "$STACK" --require-approval never --no-notices "${context[@]}" ${parameters[@]+"${parameters[@]}"} \
  --outputs-file cdk.out/outputs.json

# Old agent images pile up in the CDK bootstrap's ECR repository, one per deploy that changed the
# agent. `cdk gc` removes the images that no stack in this account and region uses any more (it reads
# every stack's template, so images other CDK apps still use are kept): a deploy tags the unused ones,
# and a later deploy deletes those tagged for more than a day (a rollback can still find its image).
# ASSET_GC=0 skips it.
if [ "${ASSET_GC:-1}" != 0 ]; then
  npx cdk gc "aws://$account/$AWS_REGION" --unstable=gc --type=ecr --action=full \
    --rollback-buffer-days=1 --confirm=false --no-notices ||
    echo "WARNING: removing unused agent images failed (the stack is deployed); see docs/deployment.md." >&2
fi

output() {
  node -e 'const o = require(process.argv[1])[process.argv[2]]; process.stdout.write(o[process.argv[3]] ?? "")' \
    "$PWD/cdk.out/outputs.json" "$STACK" "$1"
}

# With a bot token stored, point the bot at this stack's webhook. The CLI stores a fresh secret
# (`telegram-webhook-secret`, which the webhook function checks) and registers it with the URL through
# Telegram's setWebhook, so every deploy also rotates the secret. A failure leaves the stack deployed.
telegram="no bot token stored (set TELEGRAM_BOT_TOKEN and deploy again to add the bot)"
if parameter_exists "$SECRETS_PATH/telegram-bot-token"; then
  webhook_url="$(output TelegramWebhookUrl)"
  echo "Registering the Telegram webhook $webhook_url ..."
  if [ -n "$webhook_url" ] && telegram_cli set-webhook --url "$webhook_url"; then
    telegram="webhook registered at $webhook_url"
  else
    telegram="the webhook is NOT registered; retry from $ROOT with:
  cargo run --release -p serverless-openclaw-cli --features aws -- telegram set-webhook --stack $STACK --url $webhook_url"
    echo "WARNING: registering the Telegram webhook failed (the stack is deployed)." >&2
  fi
fi

# Alarms reach the owner only once they confirm SNS's email. AWS sends it when the subscription is
# created (first deploy, or a new OWNER_EMAIL) and drops a subscription left unconfirmed for 3 days.
topic="$(output AlarmTopicArn)"
subscriptions="$(aws sns list-subscriptions-by-topic --topic-arn "$topic" \
  --query 'Subscriptions[].[Endpoint,SubscriptionArn]' --output text)"
pending="$(printf '%s\n' "$subscriptions" | awk '$2 == "PendingConfirmation" {print $1}')"
confirmed="$(printf '%s\n' "$subscriptions" | awk '$2 ~ /^arn:/ {print $1}')"
if [ -n "$pending" ]; then
  alarms="NOT confirmed yet: open the \"AWS Notification - Subscription Confirmation\" email sent to
  $pending and click \"Confirm subscription\" (check spam); until then no alarm reaches you."
elif [ -n "$confirmed" ]; then
  alarms="emailed to $confirmed (subscription confirmed)."
else
  alarms="NO subscription (an unconfirmed one expires after 3 days). Subscribe again and confirm the email:
  aws sns subscribe --topic-arn $topic --protocol email --notification-endpoint <your email>"
fi

echo
echo "Deployed. Open the web app: $(output WebUrl)"
if [ "$first_deploy" = 1 ]; then
  cat <<DONE

First sign-in (owner):
  1. Cognito has emailed a temporary password to $OWNER_EMAIL (valid 7 days;
     check spam). Sign in at the URL above with that address and password.
  2. Choose your own password when asked (12+ characters with upper and lower case, a digit and a symbol).
  3. Turn on an authenticator app (TOTP) from the settings when you like.
DONE
fi
cat <<DONE

Alarms: $alarms
Telegram: $telegram
DONE
