#!/usr/bin/env bash
# Peak memory and wall time of the release binary in every hostile-daemon scenario of
# tests/fault.rs (the fake Engine API server), summarised per scenario class.
# Needs the daemon and the test image (tests/support/image.sh build), and GNU time.
#   bench/faults.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
out=$(mktemp)
trap 'rm -f "$out"' EXIT
HARDRUN_FAULT_BIN=$PWD/target/release/hardrun HARDRUN_REQUIRE_DOCKER=1 \
  cargo test -q --test fault -- --nocapture --test-threads 1 2>&1 | grep -o 'FIGURE .*' >"$out"
python3 - "$out" <<'PY'
import re, sys
rows = [re.match(r"FIGURE (.*?): exit (-?\d+) in ([\d.]+) s, max RSS (\d+) KiB", l) for l in open(sys.argv[1])]
rows = [(m[1], int(m[2]), float(m[3]), int(m[4])) for m in rows if m]
def kind(what):
    if " on " in what:
        fault = what.split(" on ")[0]
        return {"silent": "no answer", "slow-drip": "no answer", "answer": "pull error with escapes"}.get(fault, fault)
    for prefix, name in (("wait answer", "malformed wait answer"), ("attach stream", "corrupt attach frames"),
                         ("create", "hostile create answer")):
        if what.startswith(prefix):
            return name
    return "stream held open after the exit" if what.endswith("held open") else what
classes = {}
for what, code, secs, rss in rows:
    classes.setdefault(kind(what), []).append((secs, rss))
print(f"{len(rows)} scenarios, peak RSS max {max(r[3] for r in rows)/1024:.1f} MiB")
print("| scenario class | scenarios | wall time, worst | peak memory, worst |")
print("|---|---|---|---|")
for name, v in sorted(classes.items()):
    print(f"| {name} | {len(v)} | {max(s for s, _ in v):.2f} s | {max(r for _, r in v)/1024:.1f} MiB |")
PY
