#!/usr/bin/env bash
# Installs a Debian package local mode or a test needs, once (never a download by a test tool):
#
#   scripts/install-debian-package.sh chromium chromium     the browser test
#   scripts/install-debian-package.sh bubblewrap bwrap      local mode's sandbox, the Lambda-like sandbox test
#
# The second argument is the command the package provides: when it is on PATH, nothing happens.
# Needs root or sudo (apt-get).
set -euo pipefail

package="${1:?usage: install-debian-package.sh PACKAGE COMMAND}"
command="${2:?usage: install-debian-package.sh PACKAGE COMMAND}"

if command -v "$command" >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  apt_get=(apt-get)
elif command -v sudo >/dev/null 2>&1; then
  apt_get=(sudo apt-get)
else
  echo "$command is missing and this user cannot install it: run 'apt-get install -y $package' as root." >&2
  exit 1
fi
echo "Installing $package (Debian package)..." >&2
DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" update -qq
DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq --no-install-recommends "$package" >/dev/null
command -v "$command" >/dev/null
