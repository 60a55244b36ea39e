#!/usr/bin/env bash
# Starts (or stops) a throw-away Docker registry (Debian's docker-registry) on 127.0.0.1,
# with its storage in a temporary folder, and pushes the test image into it.
#   registry.sh start STATE_DIR  -> prints the registry address (127.0.0.1:PORT)
#   registry.sh stop STATE_DIR
set -euo pipefail

cmd=${1:-}
state=${2:-}
[ -n "$cmd" ] && [ -n "$state" ] || { echo "usage: registry.sh start|stop STATE_DIR" >&2; exit 2; }

start() {
  command -v docker-registry >/dev/null || {
    echo "registry.sh: docker-registry is missing (apt-get install docker-registry)" >&2; exit 1; }
  mkdir -p "$state/storage"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$state/config.yml" <<CFG
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $state/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
CFG
  docker-registry serve "$state/config.yml" >"$state/registry.log" 2>&1 &
  echo $! >"$state/pid"
  for _ in $(seq 1 100); do
    if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/v2/')" 2>/dev/null; then
      echo "127.0.0.1:$port" >"$state/addr"
      echo "127.0.0.1:$port"
      return
    fi
    sleep 0.1
  done
  echo "registry.sh: the registry did not answer on 127.0.0.1:$port; see $state/registry.log" >&2
  exit 1
}

stop() {
  if [ -f "$state/pid" ]; then
    kill "$(cat "$state/pid")" 2>/dev/null || true
    rm -f "$state/pid"
  fi
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: registry.sh start|stop STATE_DIR" >&2; exit 2 ;;
esac
