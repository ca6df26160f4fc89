#!/usr/bin/env bash
# Installs what the Node runner (runner/runner.mjs) needs, from the npm registry only:
#
#   1. Node 24, pinned by runner/toolchain/{package.json,package-lock.json}, into .tools/node/.
#      The binary is always at:   <repo>/.tools/node/node_modules/node/bin/node
#   2. runner/node_modules (openclaw 2026.9.6, pinned by runner/package-lock.json), installed with
#      `npm ci` while that Node 24 is first on PATH, so openclaw's preinstall/postinstall scripts run
#      under Node 24. Install scripts are approved in runner/package.json ("allowScripts"), and
#      runner/.npmrc sets strict-allow-scripts so an unreviewed script fails the install instead
#      of being skipped.
#
# Idempotent: each step writes a stamp with the hashes of its inputs (lockfiles, .npmrc, Node
# version); when the stamps match, the script does nothing (a few milliseconds).
#
# Prints the absolute path of the Node binary as the last line of stdout (logs go to stderr).
#   scripts/install-runner.sh               install if needed, print the node path
#   scripts/install-runner.sh --node        step 1 only (`make node`: the web build and the CDK app,
#                                           which `make deploy` needs, run on Node 24 without openclaw)
#   scripts/install-runner.sh --print-node  only print the node path (no install, no check)
#   scripts/install-runner.sh --force       reinstall both steps
#
# Needs: bash (3.2 is enough), npm >= 11 on PATH (system npm; the registry as configured for npm).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/portable.sh
source "$ROOT/scripts/portable.sh"
TOOLCHAIN_SRC="$ROOT/runner/toolchain"
NODE_PREFIX="$ROOT/.tools/node"
NODE_BIN_DIR="$NODE_PREFIX/node_modules/node/bin"
NODE_BIN="$NODE_BIN_DIR/node"
RUNNER_DIR="$ROOT/runner"
NODE_STAMP="$NODE_PREFIX/.install-stamp"
RUNNER_STAMP="$RUNNER_DIR/node_modules/.install-stamp"
EXPECTED_OPENCLAW="2026.9.6"

log() { printf '[install-runner] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

force=0
node_only=0
case "${1:-}" in
  --print-node) printf '%s\n' "$NODE_BIN"; exit 0 ;;
  --force) force=1 ;;
  --node) node_only=1 ;;
  "") ;;
  *) die "unknown argument: $1 (expected --node, --print-node or --force)" ;;
esac

hash_files() { (cd "$1" && shift && sha256 "$@") | sha256 | cut -d' ' -f1; }

toolchain_hash() { hash_files "$TOOLCHAIN_SRC" package.json package-lock.json .npmrc; }
runner_hash() {
  printf '%s %s\n' "$(hash_files "$RUNNER_DIR" package.json package-lock.json .npmrc)" "$("$NODE_BIN" --version)" |
    sha256 | cut -d' ' -f1
}

stamp_ok() { [ "$force" = 0 ] && [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }

# Fast path, before taking the lock.
node_installed() { [ -x "$NODE_BIN" ] && stamp_ok "$NODE_STAMP" "$(toolchain_hash)"; }
runner_installed() { [ -f "$RUNNER_DIR/node_modules/openclaw/package.json" ] && stamp_ok "$RUNNER_STAMP" "$(runner_hash)"; }
if node_installed && { [ "$node_only" = 1 ] || runner_installed; }; then
  printf '%s\n' "$NODE_BIN"
  exit 0
fi

command -v npm >/dev/null 2>&1 || die "npm is not on PATH"
mkdir -p "$ROOT/.tools"
# Serialise concurrent invocations (parallel test runs).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$ROOT/.tools/.install-runner.lock"
  flock 9
fi

npm_major="$(npm --version 2>/dev/null | cut -d. -f1)"
if [ "${npm_major:-0}" -lt 11 ]; then
  log "warning: npm $(npm --version) is older than 11; allowScripts in runner/package.json is not understood (install scripts run anyway)"
fi

# Step 1: Node 24.
want="$(toolchain_hash)"
if node_installed; then
  log "node $("$NODE_BIN" --version) already installed"
else
  log "installing Node (runner/toolchain) into .tools/node ..."
  start=$SECONDS
  rm -rf "$NODE_PREFIX"
  mkdir -p "$NODE_PREFIX"
  cp "$TOOLCHAIN_SRC/package.json" "$TOOLCHAIN_SRC/package-lock.json" "$TOOLCHAIN_SRC/.npmrc" "$NODE_PREFIX/"
  (cd "$NODE_PREFIX" && npm ci --no-audit --no-fund --loglevel=warn) >&2
  [ -x "$NODE_BIN" ] || die "npm ci finished but $NODE_BIN is missing"
  printf '%s\n' "$want" >"$NODE_STAMP"
  log "node $("$NODE_BIN" --version) installed in $((SECONDS - start)) s"
fi

if [ "$node_only" = 1 ]; then
  printf '%s\n' "$NODE_BIN"
  exit 0
fi

# Step 2: runner dependencies, with Node 24 first on PATH (openclaw's preinstall refuses older Node).
want="$(runner_hash)"
if runner_installed; then
  log "runner/node_modules already installed"
else
  log "installing runner/node_modules (npm ci with node $("$NODE_BIN" --version)) ..."
  start=$SECONDS
  (cd "$RUNNER_DIR" && PATH="$NODE_BIN_DIR:$PATH" npm ci --no-audit --no-fund --loglevel=warn) >&2
  version="$(OPENCLAW_PKG_JSON="$RUNNER_DIR/node_modules/openclaw/package.json" "$NODE_BIN" -p 'require(process.env.OPENCLAW_PKG_JSON).version')"
  [ "$version" = "$EXPECTED_OPENCLAW" ] || die "installed openclaw is $version, expected $EXPECTED_OPENCLAW"
  if [ -e "$RUNNER_DIR/node_modules/openclaw/.openclaw-lifecycle-pending" ]; then
    die "openclaw's postinstall did not run (lifecycle marker still present)"
  fi
  printf '%s\n' "$want" >"$RUNNER_STAMP"
  log "runner/node_modules installed in $((SECONDS - start)) s"
fi

printf '%s\n' "$NODE_BIN"
