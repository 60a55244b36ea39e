#!/usr/bin/env bash
# What verification before the command adds to a run.
#  1. hardrun-init itself: inside one container, 500 runs of `/bin/true` against 500
#     runs of hardrun-init checking the container (its expectations written by
#     `hardrun create`) and then exec'ing `/bin/true`; the difference over 500 is what
#     one check-and-exec costs.
#  2. End to end: `hardrun run --rm IMG true` with and without verification
#     (`--no-verify`), alternated round by round.
# Needs the test image (tests/support/image.sh build) and hyperfine.
#   bench/init.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-30}
image=${HARDRUN_BENCH_IMAGE:-hardrun-test/busybox-app:1}
cargo build --release -q
bin=$PWD/target/release/hardrun
docker image inspect "$image" >/dev/null 2>&1 || { echo "bench: build the test image first (tests/support/image.sh build)" >&2; exit 1; }
"$bin" -q run --rm "$image" true

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
id=$("$bin" -q create "$image" true)
spec64=$(docker inspect -f '{{index .Config.Entrypoint 1}}' "$id" | base64 -w0)
dir=$(docker inspect -f '{{range .HostConfig.Mounts}}{{if eq .Target "/.hardrun"}}{{.Source}}{{end}}{{end}}' "$id")
docker rm "$id" >/dev/null
# The container as hardrun plans it, so the init's checks pass and it execs.
same="docker run --rm --read-only --cap-drop ALL --security-opt no-new-privileges --user 65532:65532 --cgroupns private -v $dir:/.hardrun:ro -e SPEC64=$spec64 --entrypoint sh $image -c"
plain='i=0; while [ $i -lt 500 ]; do /bin/true; i=$((i+1)); done'
checked='spec=$(echo $SPEC64 | base64 -d); i=0; while [ $i -lt 500 ]; do /.hardrun/init "$spec" -- /bin/true || exit 1; i=$((i+1)); done'
hyperfine -N --warmup 1 --runs 10 --export-json "$work/loop.json" "$same '$plain'" "$same '$checked'" >/dev/null

for i in $(seq "$rounds"); do
  hyperfine -N --runs 1 --export-json "$work/verified.$i" "$bin -q run --rm $image true" >/dev/null 2>&1
  hyperfine -N --runs 1 --export-json "$work/unverified.$i" "$bin -q run --rm --no-verify $image true" >/dev/null 2>&1
done
python3 - "$work" "$rounds" <<'PY'
import json, statistics, sys
work, n = sys.argv[1], int(sys.argv[2])
loop = json.load(open(f"{work}/loop.json"))["results"]
plain, init = (statistics.median(r["times"]) for r in loop)
print(f"hardrun-init, check and exec: {(init - plain) / 500 * 1000:.2f} ms each, where starting /bin/true takes "
      f"{plain / 500 * 1000:.2f} ms (500 in a loop: {init * 1000:.0f} ms against {plain * 1000:.0f} ms)")
def load(name):
    rs = [json.load(open(f"{work}/{name}.{i}"))["results"][0] for i in range(1, n + 1)]
    return [r["times"][0] for r in rs], [r["user"] + r["system"] for r in rs]
(v, vcpu), (u, ucpu) = load("verified"), load("unverified")
print(f"{n} rounds, alternated (load average {open('/proc/loadavg').read().split()[0]})")
for label, t, cpu in (("hardrun run --rm IMG true", v, vcpu), ("hardrun run --rm --no-verify IMG true", u, ucpu)):
    print(f"{label:38} median {statistics.median(t)*1000:6.1f} ms  mean {statistics.mean(t)*1000:6.1f} ms  "
          f"client CPU {statistics.mean(cpu)*1000:5.1f} ms")
print(f"verification adds: median of the round differences {statistics.median(a - b for a, b in zip(v, u))*1000:+.1f} ms, "
      f"client CPU {(statistics.mean(vcpu) - statistics.mean(ucpu))*1000:+.2f} ms")
PY
