# Sourced by scripts/{doctor,deploy,destroy}.sh: the pinned AWS CLI on PATH (installed into .tools/ on
# first use; deploy.sh adds cargo-lambda) and the names every script agrees on. Not executable on its own.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/install-python-tools.sh" awscli
export PATH="$ROOT/.tools/awscli/bin:$ROOT/.tools/cargo-lambda/bin:$ROOT/.tools/node/node_modules/node/bin:$PATH"

# The stack, as `-c stackName=` of the CDK app; SSM secrets live under /serverless-openclaw/<stack>/
# (infra/lib/secrets.ts).
STACK="${SERVERLESS_OPENCLAW_STACK:-ServerlessOpenClaw}"
SECRETS_PATH="/serverless-openclaw/$STACK"

# The region: AWS_REGION, else AWS_DEFAULT_REGION, else the profile's; empty when none is set.
aws_region() {
  local region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
  [ -n "$region" ] || region="$(aws configure get region 2>/dev/null || true)"
  printf '%s' "$region"
}

stack_exists() {
  aws cloudformation describe-stacks --stack-name "$1" >/dev/null 2>&1
}
