#!/usr/bin/env bash
# `make destroy`: removes what `make deploy` created: the Telegram bot's webhook (when a bot token is
# stored), the stack (tables, buckets and their contents, user pool, APIs, functions, queues, alarms,
# budget, log groups), the SSM secrets under /serverless-openclaw/<stack>/ (the LLM key, the bot token,
# the webhook secret), and the log groups Lambda created for CDK's deploy-time functions.
# It asks you to type the stack name first (or set CONFIRM=<stack name>): conversations are deleted.
# The CDK bootstrap stack stays: it is shared by every CDK app in the account and region.
set -euo pipefail
# shellcheck source=scripts/aws-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/aws-env.sh"
cd "$ROOT"

AWS_REGION="$(aws_region)"
[ -n "$AWS_REGION" ] || { echo "Set AWS_REGION to the region of the deployment." >&2; exit 1; }
export AWS_REGION
aws sts get-caller-identity >/dev/null || { echo "No AWS credentials (see make doctor)." >&2; exit 1; }

confirm="${CONFIRM:-}"
if [ -z "$confirm" ]; then
  echo "This deletes stack $STACK in $AWS_REGION with all conversations, files and users."
  read -r -p "Type the stack name to confirm: " confirm </dev/tty
fi
[ "$confirm" = "$STACK" ] || { echo "Not confirmed; nothing was deleted." >&2; exit 1; }

# First tell Telegram to stop calling the webhook, while the token is still stored. A failure does not
# stop the rest: the bot then keeps a webhook that answers nothing until it is removed by hand.
if aws ssm get-parameter --name "$SECRETS_PATH/telegram-bot-token" --query Parameter.Name --output text >/dev/null 2>&1; then
  echo "Removing the Telegram bot's webhook ..."
  if ! cargo run --quiet --release -p serverless-openclaw-cli -- telegram delete-webhook --stack "$STACK"; then
    echo "WARNING: the Telegram webhook was not removed. Remove it later with" \
      "\`TELEGRAM_BOT_TOKEN=<token> serverless-openclaw telegram delete-webhook\`" \
      "(from this checkout: cargo run --release -p serverless-openclaw-cli -- telegram delete-webhook)." >&2
  fi
fi

if stack_exists "$STACK"; then
  make --no-print-directory infra
  (cd infra && SERVERLESS_OPENCLAW_SKIP_BUNDLING=1 npx cdk destroy "$STACK" --force --no-notices -c "stackName=$STACK")
else
  echo "Stack $STACK does not exist in $AWS_REGION."
fi

names="$(aws ssm get-parameters-by-path --path "$SECRETS_PATH" --query 'Parameters[].Name' --output text)"
for name in $names; do
  aws ssm delete-parameter --name "$name"
  echo "Deleted $name."
done

groups="$(aws logs describe-log-groups --log-group-name-prefix "/aws/lambda/$STACK-" \
  --query 'logGroups[].logGroupName' --output text)"
for group in $groups; do
  aws logs delete-log-group --log-group-name "$group"
  echo "Deleted log group $group."
done
echo "Done."
