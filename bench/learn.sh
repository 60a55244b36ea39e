#!/usr/bin/env bash
# Benchmark: `hardrun learn` of nginx (the service test image) driven by a probe, with
# --duration 1s: the time beyond the service's own run is learn's cost (planning, the
# observation container's create/start/diff/remove, reading /proc and the kernel log).
# Compared with `docker run -d` + the same probe + `docker rm -f` of the same image.
# Needs the service images (HARDRUN_TEST_RUN=ID tests/support/services.sh build).
#   bench/learn.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
image=${HARDRUN_BENCH_IMAGE:-hardrun-test/svc-nginx:${HARDRUN_TEST_RUN:-local}}
cargo build --release -q
bin=$PWD/target/release/hardrun
docker image inspect "$image" >/dev/null 2>&1 || {
  echo "bench: build the service images first (HARDRUN_TEST_RUN=ID tests/support/services.sh build)" >&2
  exit 1
}
port=18089
probe="curl -fsS http://127.0.0.1:$port/"
# The image's look inside is cached after the first run, as in everyday use.
"$bin" -q learn --duration 1s -p "127.0.0.1:$port:8080" "$image" >/dev/null
hyperfine -N --warmup 1 --runs "$runs" \
  -n "hardrun learn --duration 1s --probe" \
  "$bin -q learn --duration 1s -p 127.0.0.1:$port:8080 --probe '$probe' $image" \
  -n "docker run -d + probe + docker rm -f" \
  "sh -c 'id=\$(docker run -d -p 127.0.0.1:$port:8080 $image); until $probe >/dev/null 2>&1; do sleep 0.1; done; sleep 1; docker rm -f \$id >/dev/null'"
