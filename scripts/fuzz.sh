#!/usr/bin/env bash
# `make fuzz`: the coverage-guided runs of the parsers' fuzz targets (bodies in crates/fuzz-targets,
# libFuzzer entries in fuzz/) with cargo-fuzz, on the stable toolchain: without a sanitizer (the code is
# safe Rust; `unsafe_code` is forbidden) cargo-fuzz needs no nightly flag, only libFuzzer's coverage
# instrumentation. Release build with debug assertions and overflow checks (cargo-fuzz's default).
#
#   make fuzz                                         every target, 10,000,000 inputs each
#   FUZZ_RUNS=100000 FUZZ_TARGETS="jwt client_frame" make fuzz
#
# Each target starts from its seeds (fuzz/seeds/<target>, and fuzz/regressions/<target> when there is
# one) and the corpus kept from earlier runs in target/fuzz/corpus/<target>, runs under `nice -n 19`,
# and prints one Markdown table row: inputs executed, seconds, inputs a second, corpus size, libFuzzer's
# edge coverage, crashes
# (the rows go to docs/benchmarks.md). A crash leaves its input in target/fuzz/artifacts/<target>/ and
# makes the run fail: fix the bug and commit the input to fuzz/regressions/<target>/, which the
# property tests (`make test`) replay.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_FUZZ_VERSION="0.13.2"
runs="${FUZZ_RUNS:-10000000}"
targets="${FUZZ_TARGETS:-client_frame rest_bodies telegram_update telegram_render jwt skill_upload}"
tool="$ROOT/.tools/cargo-fuzz"

if ! "$tool/bin/cargo-fuzz" --version 2>/dev/null | grep -q " $CARGO_FUZZ_VERSION\$"; then
  echo "[fuzz] installing cargo-fuzz $CARGO_FUZZ_VERSION into .tools/cargo-fuzz ..." >&2
  cargo install --quiet --locked --root "$tool" --version "$CARGO_FUZZ_VERSION" cargo-fuzz
fi
export PATH="$tool/bin:$PATH"
cd "$ROOT"
out="target/fuzz"
nice -n 19 cargo fuzz build -s none --target-dir "$out"

echo "| target | inputs executed | seconds | inputs/s | corpus (files) | coverage (edges) | crashes |"
echo "|---|---:|---:|---:|---:|---:|---:|"
failed=0
for target in $targets; do
  corpus="$out/corpus/$target"
  artifacts="$out/artifacts/$target"
  log="$out/$target.log"
  stamp="$out/$target.started"   # artifacts newer than it are this run's
  mkdir -p "$corpus" "$artifacts"
  inputs="fuzz/seeds/$target"
  [ -d "fuzz/regressions/$target" ] && inputs="$inputs fuzz/regressions/$target"
  max_len=4096
  if [ "$target" = telegram_render ]; then
    # Long enough for replies past one message's 4096 units, so the split runs.
    inputs="$inputs testdata/markdown"
    max_len=16384
  fi
  started=$(date +%s)
  touch "$stamp"
  status=0
  # shellcheck disable=SC2086 # $inputs is a list of folders
  nice -n 19 cargo fuzz run -s none --target-dir "$out" "$target" "$corpus" $inputs -- \
    -runs="$runs" -max_len="$max_len" -artifact_prefix="$artifacts/" -print_final_stats=1 \
    > "$log" 2>&1 || status=$?
  seconds=$(( $(date +%s) - started ))
  executed=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
  edges=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  crashes=$(find "$artifacts" -type f -newer "$stamp" | wc -l | tr -d ' ')
  if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
    crashes="run failed (exit $status)"
  fi
  [ "$status" -eq 0 ] || failed=1
  echo "| $target | ${executed:-?} | $seconds | $(( ${executed:-0} / (seconds > 0 ? seconds : 1) )) | $(find "$corpus" -type f | wc -l | tr -d ' ') | ${edges:-?} | $crashes |"
done
[ "$failed" -eq 0 ] || { echo "[fuzz] a target failed: see $out/<target>.log and $out/artifacts/" >&2; exit 1; }
