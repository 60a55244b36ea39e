#!/usr/bin/env bash
# Builds (or removes) the service test images: nginx, PostgreSQL 15, Redis 7, a Flask
# app under gunicorn with SQLite, memcached and Prometheus, from Debian's packages,
# shaped like their official images (root entrypoints that drop to a service user with
# gosu, VOLUMEs owned by a service uid, USER lines, world-writable runtime folders).
#
# The shared root filesystem is made with mmdebstrap from the Debian mirror apt uses and
# cached (keyed by the package list and the scripts that shape it) under
#   ${HARDRUN_TEST_CACHE:-/var/cache/hardrun-test}
# then imported with `docker import`. Each service's Dockerfile (FROM the imported base:
# COPY, USER, VOLUME, WORKDIR, ENV, EXPOSE, ENTRYPOINT, CMD) is applied as
# one `docker cp` + `docker commit --change` rather than `docker build`: on this
# daemon's fuse-overlayfs every build step is a commit of its own, seconds each.
# Every image and helper container carries the run's label.
#   services.sh build   -> hardrun-test/svc-NAME:$HARDRUN_TEST_RUN for each service
#   services.sh remove  -> removes this run's images
#   services.sh rootfs  -> only makes sure the cached root filesystem exists
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$here/services
run=${HARDRUN_TEST_RUN:-local}
cache=${HARDRUN_TEST_CACHE:-/var/cache/hardrun-test}
SERVICES=(nginx postgres redis flask memcached prometheus)

key() {
  cat "$dir/packages" "$dir/essential.sh" "$dir/rootfs.sh" "$dir/run-folders.sh" | sha256sum | cut -c1-16
}

sources() {
  # The machine's Debian mirror (deb822 or one-line), else Debian's own.
  local f
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    if [ -s "$f" ] && grep -q '^[^#]*debian' "$f"; then echo "$f"; return; fi
  done
  echo "http://deb.debian.org/debian"
}

rootfs() {
  local tar
  tar=$cache/services-$(key).tar
  if [ -s "$tar" ]; then echo "$tar"; return; fi
  command -v mmdebstrap >/dev/null || {
    echo "services.sh: needs mmdebstrap (apt-get install mmdebstrap)" >&2
    exit 1
  }
  mkdir -p "$cache"
  # One build at a time on this machine; a second caller waits and finds it made.
  exec 9>"$cache/.lock"
  flock 9
  if [ ! -s "$tar" ]; then
    local packages start
    packages=$(grep -v '^#' "$dir/packages" | paste -sd, -)
    start=$(date +%s)
    echo "services.sh: building the service root filesystem (cached in $tar)" >&2
    mmdebstrap --quiet --variant=minbase --include="$packages" \
      --aptopt='APT::Install-Recommends "false"' \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
      --essential-hook="$dir/essential.sh \"\$1\"" \
      --customize-hook="$dir/rootfs.sh \"\$1\"" \
      --format=tar bookworm "$tar.part" "$(sources)" >&2
    "$dir/run-folders.sh" "$tar.part"
    mv "$tar.part" "$tar"
    # Older root filesystems of earlier package lists.
    find "$cache" -maxdepth 1 -name 'services-*.tar' ! -name "$(basename "$tar")" -delete
    echo "services.sh: built in $(($(date +%s) - start)) s" >&2
  fi
  flock -u 9
  echo "$tar"
}

image() {
  echo "hardrun-test/svc-$1:$run"
}

build() {
  local tar base
  tar=$(rootfs)
  base=hardrun-test/svc-base:$run
  if ! docker image inspect "$base" >/dev/null 2>&1; then
    docker import -c "LABEL org.hardrun.test=1 hardrun-test-run=$run" \
      -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      "$tar" "$base" >/dev/null
  fi
  local pids=()
  for s in "${SERVICES[@]}"; do
    docker image inspect "$(image "$s")" >/dev/null 2>&1 && continue
    (apply "$base" "$s") &
    pids+=($!)
  done
  local p failed=0
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  [ "$failed" = 0 ] || { echo "services.sh: building a service image failed" >&2; exit 1; }
  echo "built ${SERVICES[*]} as $(image NAME)"
}

# One service's Dockerfile onto the base: COPY through `docker cp`, the rest as commit
# changes, in one commit.
apply() {
  local base=$1 name=$2 changes=() line word rest
  # Runs in a subshell of its own: the trap removes the helper container on any exit.
  container=$(docker create -l "hardrun-test=$run-setup" "$base" /bin/true)
  trap 'docker rm -f "$container" >/dev/null 2>&1' EXIT
  while IFS= read -r line; do
    word=${line%% *}
    rest=${line#* }
    case "$word" in
      ''|'#'*|ARG|FROM) ;;
      COPY)
        set -- $rest
        docker cp "$dir/$name/$1" "$container:$2" ;;
      USER|VOLUME|WORKDIR|ENV|EXPOSE|ENTRYPOINT|CMD) changes+=(-c "$line") ;;
      *) echo "services.sh: $name/Dockerfile: $word is not supported here" >&2; return 1 ;;
    esac
  done <"$dir/$name/Dockerfile"
  changes+=(-c "LABEL org.hardrun.test=1 hardrun-test-run=$run")
  docker commit "${changes[@]}" "$container" "$(image "$name")" >/dev/null
}

remove() {
  local s images=()
  for s in "${SERVICES[@]}" base; do images+=("$(image "$s")"); done
  docker image rm -f "${images[@]}" >/dev/null 2>&1 || true
}

case "${1:-}" in
  build) build ;;
  remove) remove ;;
  rootfs) rootfs >/dev/null ;;
  *) echo "usage: services.sh build|remove|rootfs" >&2; exit 2 ;;
esac
