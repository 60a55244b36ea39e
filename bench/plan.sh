#!/usr/bin/env bash
# Benchmark: `hardrun plan` of a typical invocation (no daemon involved).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
bin=$PWD/target/release/hardrun
hyperfine -N --warmup 20 --runs "${1:-300}" \
  -n "hardrun plan" "$bin plan -d --name web -p 127.0.0.1:8080:80 -e MODE=prod -v ./data:/data --cap-add NET_BIND_SERVICE --memory 256m app:1.2" \
  -n "hardrun plan --format json" "$bin plan --format json -d --name web -p 127.0.0.1:8080:80 app:1.2"

# Huge port ranges (issue 9): refused under the default ceiling before anything is
# expanded; without a ceiling, expanded once for the Engine API body and folded back into
# ranges for the docker command line.
open=$(mktemp --suffix=.yaml)
trap 'rm -f "$open"' EXIT
printf 'extends: default\nnetwork: {max_ports: unlimited}\n' >"$open"
hyperfine -N -i --warmup 3 --runs "${2:-20}" \
  -n "plan -p 1-65535:1-65535 (refused)" "$bin plan -p 1-65535:1-65535 app:1.2" \
  -n "plan -p 1-65535:1-65535, no ceiling" "$bin --profile-file $open plan -p 1-65535:1-65535 app:1.2" \
  -n "plan --format docker, no ceiling" "$bin --profile-file $open plan --format docker -p 1-65535:1-65535 app:1.2" \
  -n "plan --format json, no ceiling" "$bin --profile-file $open plan --format json -p 1-65535:1-65535 app:1.2"
