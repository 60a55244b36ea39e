#!/usr/bin/env bash
# Benchmark: containers left behind by SIGKILLed runs. Starts `hardrun run --rm IMG true`
# RUNS times, each SIGKILLed after a random 0-400 ms (so the kill lands in every phase:
# connecting, the image, create, between create and start, start, the running container),
# then counts the containers left: never-started ("created") and any other.
#   bench/kill.sh [RUNS] [HARDRUN_BINARY]
# Run it with an older binary (before owner labels and the sweep) and with this one; for
# this one it also counts what is left after `hardrun prune`.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-100}
bin=${2:-}
image=${HARDRUN_BENCH_IMAGE:-hardrun-test/busybox-app:1}
if [ -z "$bin" ]; then
  cargo build --release -q
  bin=$PWD/target/release/hardrun
fi
docker image inspect "$image" >/dev/null 2>&1 || { echo "bench: build the test image first (tests/support/image.sh build)" >&2; exit 1; }
label=hardrun-bench=kill-$$
trap 'docker ps -aq --filter "label=$label" | xargs -r docker rm -f -v >/dev/null' EXIT
"$bin" -q run --rm "$image" true
for _ in $(seq "$runs"); do
  "$bin" -q run --rm -l "$label" "$image" true >/dev/null 2>&1 &
  pid=$!
  sleep "0.$(printf '%03d' $((RANDOM % 400)))"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
done
# Started containers run `true` and --rm removes them: let them finish.
sleep 3
created=$(docker ps -aq --filter "label=$label" --filter status=created | wc -l)
all=$(docker ps -aq --filter "label=$label" | wc -l)
echo "$runs runs SIGKILLed after 0-400 ms with $bin: $created never-started containers left, $all in all"
if "$bin" prune --help >/dev/null 2>&1; then
  "$bin" -q prune >/dev/null
  echo "after hardrun prune: $(docker ps -aq --filter "label=$label" | wc -l) left"
fi
