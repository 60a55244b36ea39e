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
  cargo test -q --test fault -- --nocapture --test-threads 1 2>&1 | grep '^FIGURE' >"$out"
python3 - "$out" <<'PY'
import re, sys
rows = [re.match(r"FIGURE (.*?): exit (-?\d+) in ([\d.]+) s, max RSS (\d+) KiB", l) for l in open(sys.argv[1])]
rows = [(m[1], int(m[2]), float(m[3]), int(m[4])) for m in rows if m]
classes = {}
for what, code, secs, rss in rows:
    kind = what.split(" on ")[0] if " on " in what else what.split(",")[0].split(" held")[0]
    for k in ("silent", "slow-drip"):
        if what.startswith(k):
            kind = "no answer (silent, slow drip)"
    classes.setdefault(kind, []).append((secs, rss))
print(f"{len(rows)} scenarios, peak RSS max {max(r[3] for r in rows)/1024:.1f} MiB")
for kind, v in sorted(classes.items()):
    print(f"{kind:40} n={len(v):3}  wall max {max(s for s, _ in v):5.2f} s  RSS max {max(r for _, r in v)/1024:5.1f} MiB")
PY
