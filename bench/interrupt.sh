#!/usr/bin/env bash
# Benchmark: the worst time from SIGINT/SIGTERM to hardrun's exit in each phase of a run,
# each phase caught mid-call by the stalling proxy of tests/interrupt.rs (the daemon
# never answers the call of that phase). Repeats every phase and signal ROUNDS times.
#   bench/interrupt.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
HARDRUN_INTERRUPT_REPEAT=$rounds HARDRUN_REQUIRE_DOCKER=1 tests/run --test interrupt sigint -- --nocapture 2>&1 \
  | grep -E '^worst time to exit|test result'
