# Sourced by scripts/{doctor,deploy,destroy}.sh: the tools on PATH, the names every script agrees on,
# and the helpers they share. Not executable on its own. Like every script here it keeps to what
# macOS's /bin/bash 3.2 understands (docs/architecture.md, "Deploy scripts").

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Pinned tools installed into .tools/ come first; Node 24 is `make node`'s.
export PATH="$ROOT/.tools/awscli/bin:$ROOT/.tools/cargo-lambda/bin:$ROOT/.tools/node/node_modules/node/bin:$PATH"
# AWS CLI v2 pipes output through a pager when it sees a terminal; these scripts read what it prints.
export AWS_PAGER=""

# The stack, as `-c stackName=` of the CDK app; SSM secrets live under /serverless-openclaw/<stack>/
# (infra/lib/secrets.ts).
STACK="${SERVERLESS_OPENCLAW_STACK:-ServerlessOpenClaw}"
SECRETS_PATH="/serverless-openclaw/$STACK"

# Makes the command $2 available: the one on PATH when the owner has it (their AWS CLI, v1 or v2, with
# their profiles and SSO; their cargo-lambda), else the version pinned in tools/$1-requirements.txt,
# installed from PyPI into .tools/$1 (scripts/install-python-tools.sh).
use_tool() {
  command -v "$2" >/dev/null 2>&1 || "$ROOT/scripts/install-python-tools.sh" "$1"
}

# The region: AWS_REGION, else AWS_DEFAULT_REGION, else the profile's; empty when none is set.
aws_region() {
  local region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
  [ -n "$region" ] || region="$(aws configure get region 2>/dev/null || true)"
  printf '%s' "$region"
}

stack_exists() {
  aws cloudformation describe-stacks --stack-name "$1" >/dev/null 2>&1
}

parameter_exists() {
  aws ssm get-parameter --name "$1" --query Parameter.Name --output text >/dev/null 2>&1
}

# The command that registers or removes the bot's webhook ($1: set-webhook | delete-webhook; more
# arguments follow), built from this checkout; the CLI reads the bot token from SSM itself, so the
# token is never on a command line.
telegram_cli() {
  (cd "$ROOT" && cargo run --quiet --release -p serverless-openclaw-cli --features aws -- telegram "$@" --stack "$STACK")
}
