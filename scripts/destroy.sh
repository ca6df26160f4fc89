#!/usr/bin/env bash
# `make destroy`: removes what `make deploy` created: the stack (tables, buckets and their contents,
# user pool, APIs, functions, queues, alarms, budget, log groups), then the Telegram bot's webhook
# (when a bot token is stored), the SSM secrets under /serverless-openclaw/<stack>/ (the LLM key, the
# bot token, the webhook secret), and the log groups Lambda created for CDK's deploy-time functions.
# It asks you to type the stack name first (or set CONFIRM=<stack name>): conversations are deleted.
# The CDK bootstrap stack stays: it is shared by every CDK app in the account and region.
#
# It needs only the AWS CLI: the stack is deleted with CloudFormation's DeleteStack (what `cdk
# destroy` does), so nothing is built and a fresh clone can destroy a deployment. The webhook goes
# only once the stack is gone: if the deletion fails, the bot, the secrets and the stack stay as they
# were and running `make destroy` again resumes.
set -euo pipefail
# shellcheck source=scripts/aws-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/aws-env.sh"
cd "$ROOT"

use_tool awscli aws
AWS_REGION="$(aws_region)"
[ -n "$AWS_REGION" ] || { echo "Set AWS_REGION to the region of the deployment." >&2; exit 1; }
export AWS_REGION
aws sts get-caller-identity >/dev/null || { echo "No AWS credentials (see make doctor)." >&2; exit 1; }

confirm="${CONFIRM:-}"
if [ -z "$confirm" ]; then
  [ -t 0 ] || { echo "No terminal to ask on: set CONFIRM=$STACK to confirm." >&2; exit 1; }
  echo "This deletes stack $STACK in $AWS_REGION with all conversations, files and users."
  read -r -p "Type the stack name to confirm: " confirm </dev/tty
fi
[ "$confirm" = "$STACK" ] || { echo "Not confirmed; nothing was deleted." >&2; exit 1; }

if stack_exists "$STACK"; then
  echo "Deleting stack $STACK (this takes a few minutes) ..."
  aws cloudformation delete-stack --stack-name "$STACK"
  if ! aws cloudformation wait stack-delete-complete --stack-name "$STACK"; then
    echo "The stack was not deleted; its events say why:" >&2
    aws cloudformation describe-stack-events --stack-name "$STACK" --max-items 10 \
      --query "StackEvents[?ResourceStatus=='DELETE_FAILED'].[LogicalResourceId,ResourceStatusReason]" \
      --output text >&2 || true
    echo "Nothing else was removed (Telegram webhook, secrets). Fix the cause, then run make destroy again." >&2
    exit 1
  fi
  echo "Deleted stack $STACK."
else
  echo "Stack $STACK does not exist in $AWS_REGION."
fi

# The stack is gone: tell Telegram to stop calling its webhook, while the token is still stored. A
# failure does not stop the rest: the bot then keeps a webhook that answers nothing until removed.
if parameter_exists "$SECRETS_PATH/telegram-bot-token"; then
  echo "Removing the Telegram bot's webhook ..."
  if ! telegram_cli delete-webhook; then
    echo "WARNING: the Telegram webhook was not removed. Remove it later with" \
      "\`TELEGRAM_BOT_TOKEN=<token> serverless-openclaw telegram delete-webhook\`" \
      "(from this checkout: cargo run --release -p serverless-openclaw-cli -- telegram delete-webhook)." >&2
  fi
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
