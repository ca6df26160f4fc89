# Sourced by the scripts that hash files: the commands whose names differ between Linux and macOS.
# Not executable on its own. Everything under scripts/ runs on macOS's /bin/bash 3.2 and BSD tools as
# well as on Linux (docs/architecture.md, "Deploy scripts"); scripts/check-bash32.py checks the syntax.

# SHA-256 of files (or stdin) in `sha256sum`'s format. GNU coreutils has sha256sum; macOS has only
# `shasum -a 256` on older releases, which prints the same lines.
sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$@"; else shasum -a 256 "$@"; fi
}
