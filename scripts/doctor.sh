#!/usr/bin/env bash
# `make doctor`: what a deploy needs, checked before anything is created. Prints one line per check
# (ok / will be set up by `make deploy` / missing, with how to fix it) and exits 1 when something only
# you can fix is missing: AWS credentials, a region, a running Docker engine that builds arm64 images.
set -uo pipefail
# shellcheck source=scripts/aws-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/aws-env.sh"

missing=0
ok() { printf '  ok       %s\n' "$1"; }
later() { printf '  deploy   %s\n' "$1"; }
bad() { printf '  MISSING  %s\n           %s\n' "$1" "$2"; missing=1; }

echo "serverless-openclaw doctor (stack $STACK)"

region="$(aws_region)"
if [ -n "$region" ]; then ok "AWS region: $region"; else
  bad "AWS region" "Set AWS_REGION (for example: export AWS_REGION=eu-west-1) or a region in your AWS profile."
fi

if account="$(aws sts get-caller-identity --query Account --output text 2>/dev/null)"; then
  ok "AWS credentials: account $account"
  if [ -n "$region" ]; then
    if stack_exists CDKToolkit; then ok "CDK bootstrap stack in $region"; else
      later "CDK bootstrap stack in $region (make deploy runs \`cdk bootstrap\` once)"
    fi
    if stack_exists "$STACK"; then ok "stack $STACK exists (a deploy updates it)"; else
      later "stack $STACK (created by the first deploy)"
    fi
  fi
else
  bad "AWS credentials" "Configure them (aws configure, AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY); \`.tools/awscli/bin/aws sts get-caller-identity\` must work."
fi

if ! command -v docker >/dev/null 2>&1; then
  bad "Docker" "Install Docker Engine (https://docs.docker.com/engine/install/): CDK builds the agent image with it."
elif ! docker info >/dev/null 2>&1; then
  bad "Docker engine" "The docker CLI is here but no engine answers: start Docker (or add your user to the docker group)."
elif [ "$(uname -m)" = aarch64 ] || [ "$(uname -m)" = arm64 ] \
  || docker buildx inspect --bootstrap 2>/dev/null | grep -q 'linux/arm64'; then
  ok "Docker builds linux/arm64 images"
else
  bad "Docker arm64 builds" "The agent image is arm64: enable emulation with \`docker run --privileged --rm tonistiigi/binfmt --install arm64\` (slow), or deploy from an arm64 machine."
fi

if command -v rustup >/dev/null 2>&1; then
  if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
    ok "Rust target aarch64-unknown-linux-gnu"
  else
    later "Rust target aarch64-unknown-linux-gnu (make deploy runs \`rustup target add\`)"
  fi
else
  bad "rustup" "The Rust functions are cross-built for arm64; install Rust with rustup (https://rustup.rs)."
fi
if command -v cargo-lambda >/dev/null 2>&1; then
  ok "cargo-lambda $(cargo-lambda lambda --version 2>/dev/null | awk '{print $2}')"
else
  later "cargo-lambda (make deploy installs it into .tools/cargo-lambda)"
fi

if [ "$missing" -ne 0 ]; then
  echo "Fix the MISSING items above, then run make deploy."
  exit 1
fi
echo "Ready to deploy."
