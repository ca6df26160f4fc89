#!/usr/bin/env bash
# `make doctor`: what a deploy needs, checked before anything is created. Prints one line per check
# (ok / will be set up by `make deploy` / MISSING with how to fix it), goes on after a problem so that
# every problem is listed at once, and exits 1 when something only you can fix is missing.
set -uo pipefail
# shellcheck source=scripts/aws-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/aws-env.sh"

# What a first deploy writes, an estimate with room to spare (docs/deployment.md): the release build of
# the functions for arm64 in target/ (2-3 GB) and Docker's agent image (over 1 GB) with its build cache.
NEEDED_DISK_GB=8

missing=0
ok() { printf '  ok       %s\n' "$1"; }
later() { printf '  deploy   %s\n' "$1"; }
bad() { printf '  MISSING  %s\n           %s\n' "$1" "$2"; missing=1; }

# 0 when version $1 (like 1.95.0) is at least $2 (like 1.94), comparing numbers field by field.
version_at_least() {
  local have="$1" want="$2" h w
  while [ -n "$want" ]; do
    h="${have%%.*}"; w="${want%%.*}"
    [ "${h:-0}" -gt "$w" ] 2>/dev/null && return 0
    [ "${h:-0}" -lt "$w" ] 2>/dev/null && return 1
    if [ "$have" = "$h" ]; then have=""; else have="${have#*.}"; fi
    if [ "$want" = "$w" ]; then want=""; else want="${want#*.}"; fi
  done
  return 0
}

echo "serverless-openclaw doctor (stack $STACK)"

# python3 with venv installs the pinned AWS CLI and cargo-lambda when they are not on PATH.
pip_tools=""
command -v aws >/dev/null 2>&1 || pip_tools="$pip_tools AWS CLI"
command -v cargo-lambda >/dev/null 2>&1 || pip_tools="$pip_tools cargo-lambda"
venv_works=1
if [ -z "$pip_tools" ]; then
  ok "python3 not needed (the AWS CLI and cargo-lambda are on PATH)"
else
  scratch="$(mktemp -d)"
  if ! command -v python3 >/dev/null 2>&1; then
    venv_works=0
    bad "python3 (to install$pip_tools)" "Install Python 3 (macOS: xcode-select --install or brew install python; Debian: apt-get install python3 python3-venv), or put$pip_tools on PATH yourself."
  elif ! python3 -m venv "$scratch/venv" >/dev/null 2>&1; then
    venv_works=0
    bad "python3 -m venv (to install$pip_tools)" "Install venv (Debian/Ubuntu: apt-get install python3-venv), or put$pip_tools on PATH yourself."
  else
    ok "python3 with venv ($(python3 --version 2>&1); installs$pip_tools into .tools/)"
  fi
  rm -rf "$scratch"
fi

if ! command -v aws >/dev/null 2>&1; then
  if [ "$venv_works" = 1 ] && use_tool awscli aws; then ok "AWS CLI (installed into .tools/awscli)"; else
    bad "AWS CLI" "Install it (https://aws.amazon.com/cli/) or fix python3's venv above; AWS credentials and region are not checked without it."
  fi
fi

if command -v aws >/dev/null 2>&1; then
  region="$(aws_region)"
  if [ -n "$region" ]; then ok "AWS region: $region"; else
    bad "AWS region" "Set AWS_REGION (for example: export AWS_REGION=eu-west-1) or a region in your AWS profile."
  fi
  if account="$(aws sts get-caller-identity --query Account --output text 2>/dev/null)"; then
    ok "AWS credentials: account $account"
    if [ -n "$region" ]; then
      if stack_exists CDKToolkit; then ok "CDK bootstrap stack in $region (each deploy brings it up to date)"; else
        later "CDK bootstrap stack in $region (make deploy runs \`cdk bootstrap\`)"
      fi
      if stack_exists "$STACK"; then ok "stack $STACK exists (a deploy updates it)"; else
        later "stack $STACK (created by the first deploy)"
      fi
    fi
  else
    bad "AWS credentials" "Configure them (aws configure, aws sso login with AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY); \`aws sts get-caller-identity\` must work."
  fi
fi

if ! command -v docker >/dev/null 2>&1; then
  bad "Docker" "Install Docker Desktop (macOS) or Docker Engine (https://docs.docker.com/engine/install/): CDK builds the agent image with it."
elif ! docker info >/dev/null 2>&1; then
  bad "Docker engine" "The docker CLI is here but no engine answers: start Docker (or add your user to the docker group)."
elif ! docker buildx version >/dev/null 2>&1; then
  bad "Docker buildx" "CDK builds the arm64 image with buildx: install the buildx plugin (Debian: apt-get install docker-buildx-plugin from Docker's repository; Docker Desktop has it)."
elif [ "$(uname -m)" = aarch64 ] || [ "$(uname -m)" = arm64 ] \
  || docker buildx inspect --bootstrap 2>/dev/null | grep -q 'linux/arm64'; then
  ok "Docker builds linux/arm64 images"
else
  bad "Docker arm64 builds" "The agent image is arm64: enable emulation with \`docker run --privileged --rm tonistiigi/binfmt --install arm64\` (slow), or deploy from an arm64 machine."
fi

if [ -x "$ROOT/.tools/node/node_modules/node/bin/node" ]; then
  ok "Node 24 (.tools/node)"
elif command -v npm >/dev/null 2>&1; then
  later "Node 24 (make deploy installs it into .tools/node with npm $(npm --version 2>/dev/null))"
else
  bad "npm" "make deploy installs Node 24 with npm: install Node.js with npm (macOS: brew install node; Debian: apt-get install npm)."
fi

rust_wanted="$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' "$ROOT/Cargo.toml" | head -n 1)"
if ! command -v rustup >/dev/null 2>&1 || ! command -v cargo >/dev/null 2>&1; then
  bad "Rust (rustup)" "The functions are cross-built for arm64 with Rust $rust_wanted or newer: install it with rustup (https://rustup.rs)."
else
  rust_have="$(rustc --version 2>/dev/null | awk '{print $2}')"
  if version_at_least "${rust_have:-0}" "$rust_wanted"; then ok "Rust $rust_have (the workspace needs $rust_wanted)"; else
    bad "Rust ${rust_have:-?} (the workspace needs $rust_wanted)" "Update it: rustup update stable."
  fi
  if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
    ok "Rust target aarch64-unknown-linux-gnu"
  else
    later "Rust target aarch64-unknown-linux-gnu (make deploy runs \`rustup target add\`)"
  fi
fi

# cargo-lambda links the arm64 binaries with zig: the pinned one brings zig as a Python wheel; one
# of the owner's own finds `zig` on PATH or Python's ziglang package.
lambda_bin="$(command -v cargo-lambda 2>/dev/null || true)"
if [ -z "$lambda_bin" ]; then
  later "cargo-lambda and its zig (make deploy installs them into .tools/cargo-lambda)"
elif [ "$lambda_bin" = "$ROOT/.tools/cargo-lambda/bin/cargo-lambda" ]; then
  ok "cargo-lambda $(cargo-lambda lambda --version 2>/dev/null | awk '{print $2}') with its zig (.tools/cargo-lambda)"
else
  ok "cargo-lambda $(cargo-lambda lambda --version 2>/dev/null | awk '{print $2}') ($lambda_bin)"
  if command -v zig >/dev/null 2>&1; then ok "zig $(zig version 2>/dev/null)"; elif python3 -m ziglang version >/dev/null 2>&1; then
    ok "zig (Python's ziglang)"
  else
    bad "zig" "cargo-lambda cross-links with zig: install it (brew install zig, or pip install ziglang), or take cargo-lambda off PATH so make deploy installs the pinned one with its zig."
  fi
fi

free_kb="$(df -Pk "$ROOT" | awk 'NR == 2 {print $4}')"
free_gb=$((${free_kb:-0} / 1024 / 1024))
if [ "$free_gb" -ge "$NEEDED_DISK_GB" ]; then ok "disk: $free_gb GB free (a first deploy needs about $NEEDED_DISK_GB GB)"; else
  bad "disk: $free_gb GB free" "A first deploy needs about $NEEDED_DISK_GB GB (target/ and Docker's image and cache): free some space (docker system prune, cargo clean in other projects)."
fi

if [ "$missing" -ne 0 ]; then
  echo "Fix the MISSING items above, then run make deploy."
  exit 1
fi
echo "Ready to deploy."
