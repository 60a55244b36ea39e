#!/usr/bin/env bash
# Where a run's time goes, and hardrun against docker (issue 13):
#  1. wall time, alternated round by round: plain `docker run`, docker on hardrun's
#     network / no network / hardrun's flags, and `hardrun run` on its default network
#     and on the default bridge;
#  2. hardrun's phases (HARDRUN_TIMING=1): connect, gate, create, attach, register-wait,
#     start, verify, exit, remove (medians), on its own network and on the bridge;
#  3. client CPU and peak memory per run (GNU time);
#  4. 20 and 50 runs at once, hardrun against docker, each on the default bridge and on
#     hardrun's network (total wall time).
# Builds its own copy of the test image (tests/support/image.sh) and removes it after.
#   bench/speed.sh [ROUNDS] [CONCURRENCY...]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-9}
shift || true
levels=${*:-20 50}
tag=bench$$
export HARDRUN_TEST_IMAGE=hardrun-test/busybox-app:$tag HARDRUN_TEST_IMAGE_ROOT=hardrun-test/busybox:$tag
image=$HARDRUN_TEST_IMAGE
work=$(mktemp -d)
# Two user-defined bridges of the bench's own: is the cost the icc rule or the network?
icc_on=hardrun-bench-icc-on-$$ icc_off=hardrun-bench-icc-off-$$
cleanup() {
  docker network rm "$icc_on" "$icc_off" >/dev/null 2>&1 || true
  tests/support/image.sh remove >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
tests/support/image.sh build >/dev/null
docker network create "$icc_on" >/dev/null
docker network create -o com.docker.network.bridge.enable_icc=false "$icc_off" >/dev/null
cargo build --release -q
bin=$PWD/target/release/hardrun
# hardrun's network exists before the measurement (made on first use, once per daemon).
"$bin" -q run --rm --network none "$image" true
net=$("$bin" -v run --rm "$image" true 2>&1 | sed -n 's/^hardrun: network: \([a-z]*\):.*/\1/p')
echo "hardrun's default here: $net"
docker network inspect hardrun >/dev/null 2>&1 || "$bin" -q run --rm --network-alias x "$image" true
# The same container through docker: the flags `hardrun plan --format docker` prints.
eval "same=($("$bin" plan --format docker --rm "$image" true))"

# Rounds alternate the commands; wall time and client CPU (user+system) come from
# wait4's rusage of each child (GNU time rounds CPU to 10 ms), peak RSS from GNU time.
python3 - "$rounds" "$net" "$bin" "$image" "$icc_on" "$icc_off" "${same[@]}" <<'PY'
import os, statistics as st, subprocess, sys, time
rounds, net, bin, image, icc_on, icc_off, same = int(sys.argv[1]), *sys.argv[2:7], sys.argv[7:]
cmds = {
    "docker run": ["docker", "run", "--rm", image, "true"],
    "docker run --network hardrun": ["docker", "run", "--rm", "--network", "hardrun", image, "true"],
    "docker run --network none": ["docker", "run", "--rm", "--network", "none", image, "true"],
    "docker run, user bridge, icc on": ["docker", "run", "--rm", "--network", icc_on, image, "true"],
    "docker run, user bridge, icc off": ["docker", "run", "--rm", "--network", icc_off, image, "true"],
    "docker run, hardrun's flags": same,
    f"hardrun run ({net})": [bin, "-q", "run", "--rm", image, "true"],
    "hardrun run --network bridge": [bin, "-q", "run", "--rm", "--network", "bridge", image, "true"],
}
def once(argv, env=None):
    t = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    if status != 0:
        sys.exit(f"{argv}: {err.decode()}")
    return time.monotonic() - t, ru.ru_utime + ru.ru_stime, err.decode()
def peak_rss(argv):
    # Under GNU time: the rusage python gets counts its own pages from before the exec.
    err = once(["/usr/bin/time", "-f", "%M", *argv])[2]
    return int(err.strip().splitlines()[-1]) / 1024
res = {k: [] for k in cmds}
phases = {"default": {}, "bridge": {}}
timing = dict(os.environ, HARDRUN_TIMING="1")
for _ in range(rounds):
    for k, argv in cmds.items():
        res[k].append((*once(argv)[:2], peak_rss(argv)))
    for which, extra in (("default", []), ("bridge", ["--network", "bridge"])):
        err = once([bin, "-q", "run", "--rm", *extra, image, "true"], timing)[2]
        for l in err.splitlines():
            if l.startswith("hardrun: timing: "):
                p, ms = l.split()[2:4]
                phases[which].setdefault(p, []).append(float(ms))
print(f"\n{rounds} alternated rounds: wall median, client CPU median, peak RSS max")
for k, rows in res.items():
    print(f"  {k:34} {st.median(r[0] for r in rows)*1000:6.0f} ms   CPU {st.median(r[1] for r in rows)*1000:5.1f} ms"
          f"   RSS {max(r[2] for r in rows):5.1f} MiB")
for which, label in (("default", f"hardrun run (default: {net})"), ("bridge", "hardrun run --network bridge")):
    print(f"\nphases, {label} (median ms)")
    print("  " + "  ".join(f"{p} {st.median(v):.1f}" for p, v in phases[which].items()))
PY

echo
for c in $levels; do
  # A failed run fails the measurement (hyperfine says which command and why).
  hyperfine -N --runs 3 --warmup 1 \
    -n "hardrun x$c" "bash -c 'seq $c | xargs -P $c -I{} $bin -q run --rm $image true'" \
    -n "hardrun --network bridge x$c" "bash -c 'seq $c | xargs -P $c -I{} $bin -q run --rm --network bridge $image true'" \
    -n "docker x$c" "bash -c 'seq $c | xargs -P $c -I{} docker run --rm $image true'" \
    -n "docker --network hardrun x$c" "bash -c 'seq $c | xargs -P $c -I{} docker run --rm --network hardrun $image true'"
done
