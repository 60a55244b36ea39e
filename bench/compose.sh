#!/usr/bin/env bash
# Benchmark: `hardrun compose config` of a 20-service project (read, interpolate, merge,
# translate, harden and render every service; no daemon involved).
#   bench/compose.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
bin=$PWD/target/release/hardrun
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{
  echo "x-common: &common"
  echo "  restart: unless-stopped"
  echo "  logging: {driver: json-file, options: {max-size: 10m}}"
  echo "services:"
  for i in $(seq 1 20); do
    cat <<SVC
  svc$i:
    <<: *common
    image: registry.example.com/team/svc$i:\${TAG:-1.4.2}
    command: ["serve", "--port", "80$((i % 10))0", "--name", "svc$i"]
    environment: {MODE: prod, INDEX: "$i", PEER: "svc$(( i % 20 + 1 ))"}
    ports: ["127.0.0.1:$((18000 + i)):8000"]
    volumes: ["data$i:/var/lib/svc", "./conf/svc$i:/etc/svc:ro"]
    tmpfs: [/tmp, /run]
    mem_limit: 256m
    cpus: 0.5
    depends_on: [svc$(( i % 20 + 1 ))]
    healthcheck: {test: ["CMD", "/bin/check"], interval: 10s, retries: 3}
    networks: [front, back]
SVC
  done
  echo "networks: {front: {}, back: {internal: true}}"
  echo "volumes:"
  for i in $(seq 1 20); do echo "  data$i: {}"; done
} >"$work/compose.yaml"
"$bin" -q compose -f "$work/compose.yaml" config >/dev/null
hyperfine -N --warmup 10 --runs "${1:-100}" -n "hardrun compose config (20 services)" \
  "$bin -q compose -f $work/compose.yaml config"
