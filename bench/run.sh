#!/usr/bin/env bash
# Benchmark: `hardrun run --rm IMG true` against `docker run --rm IMG true` on the same
# daemon, alternated round by round; also against `docker run` given the same protections
# (the command `hardrun plan --format docker` prints), which separates hardrun's own cost
# from the daemon's cost of the hardening. Then client CPU time and peak memory.
# Needs the test image (tests/support/image.sh build).
#   bench/run.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-30}
image=${HARDRUN_BENCH_IMAGE:-hardrun-test/busybox-app:1}
cargo build --release -q
bin=$PWD/target/release/hardrun
docker image inspect "$image" >/dev/null 2>&1 || { echo "bench: build the test image first (tests/support/image.sh build)" >&2; exit 1; }
# Creates hardrun's network once, outside the measurement.
"$bin" -q run --rm "$image" true
same=$("$bin" plan --format docker --rm "$image" true)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in $(seq "$rounds"); do
  hyperfine -N --runs 1 --export-json "$work/hardrun.$i" "$bin -q run --rm $image true" >/dev/null 2>&1
  hyperfine -N --runs 1 --export-json "$work/docker.$i" "docker run --rm $image true" >/dev/null 2>&1
  hyperfine -N --runs 1 --export-json "$work/same.$i" "$same" >/dev/null 2>&1
  /usr/bin/time -a -o "$work/hardrun.rss" -f "%M" "$bin" -q run --rm "$image" true >/dev/null 2>&1
  /usr/bin/time -a -o "$work/docker.rss" -f "%M" docker run --rm "$image" true >/dev/null 2>&1
done
python3 - "$work" "$rounds" <<'PY'
import json, statistics, sys
work, n = sys.argv[1], int(sys.argv[2])
def load(name):
    t, cpu = [], []
    for i in range(1, n + 1):
        r = json.load(open(f"{work}/{name}.{i}"))["results"][0]
        t += r["times"]; cpu.append(r["user"] + r["system"])
    return t, cpu
def rss(name):
    return max(int(l) for l in open(f"{work}/{name}.rss") if l.strip().isdigit()) / 1024
print(f"{n} rounds, each: hardrun, docker, docker with hardrun's flags")
for label, name in (("hardrun run", "hardrun"), ("docker run", "docker"), ("docker run, same flags", "same")):
    t, cpu = load(name)
    extra = f"  peak RSS {rss(name):5.1f} MiB" if name != "same" else ""
    print(f"{label:24} median {statistics.median(t)*1000:6.1f} ms  mean {statistics.mean(t)*1000:6.1f} ms  "
          f"client CPU {statistics.mean(cpu)*1000:5.1f} ms{extra}")
PY
