#!/usr/bin/env bash
# Benchmark: `hardrun plan --offline` of a typical invocation (no daemon involved).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
bin=$PWD/target/release/hardrun
hyperfine -N --warmup 20 --runs "${1:-300}" \
  -n "hardrun plan" "$bin plan --offline -d --name web -p 127.0.0.1:8080:80 -e MODE=prod -v ./data:/data --cap-add NET_BIND_SERVICE --memory 256m app:1.2" \
  -n "hardrun plan --format json" "$bin plan --offline --format json -d --name web -p 127.0.0.1:8080:80 app:1.2"
