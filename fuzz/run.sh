#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (FUZZ_SECONDS each, 30 by default), starting
# from the committed seeds in fuzz/seeds/TARGET. What the fuzzer finds goes to a
# temporary folder, never into the checkout; a failing target prints its input and makes
# the script fail. Needs cargo-fuzz (`cargo install cargo-fuzz --locked`); the stable
# toolchain's -Z flags are unlocked with RUSTC_BOOTSTRAP=1.
#   fuzz/run.sh              all targets
#   fuzz/run.sh passwd       one target
set -euo pipefail
cd "$(dirname "$0")"

seconds=${FUZZ_SECONDS:-30}
# Builds are slow; keep them outside the checkout so CI's clean clones reuse them.
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-/var/cache/hardrun-test/fuzz-target}
export RUSTC_BOOTSTRAP=1

targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)

cargo fuzz build >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
for t in "${targets[@]}"; do
  mkdir -p "$work/$t/corpus" "$work/$t/found"
  # -timeout: one input taking over 5 s is a failure (a hang, or worse than linear time).
  if cargo fuzz run "$t" "$work/$t/corpus" "seeds/$t" -- \
      -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
      -artifact_prefix="$work/$t/found/" >"$work/$t/log" 2>&1; then
    echo "fuzz $t: $(grep -E '^Done [0-9]+ runs' "$work/$t/log" | tail -n 1)"
  else
    failed+=("$t")
    echo "fuzz $t: FAILED"
    { grep -E -A2 "panicked at" "$work/$t/log" || grep -E "ERROR: libFuzzer|SUMMARY" "$work/$t/log"; } | head -n 8 || true
    for input in "$work/$t/found"/*; do
      [ -f "$input" ] && echo "input (base64): $(base64 -w0 "$input")"
    done
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz: failed: ${failed[*]}" >&2; exit 1; }
