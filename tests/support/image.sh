#!/usr/bin/env bash
# Builds (or removes) the tiny test images the daemon tests run: a root filesystem made
# from Debian's static busybox, imported with `docker import`, so no registry is needed.
#   image.sh build   -> hardrun-test/busybox:1 (runs as root, like most public images)
#                       hardrun-test/busybox-app:1 (USER 10001:10001)
#   image.sh remove  -> removes both
set -euo pipefail

ROOT_IMAGE=${HARDRUN_TEST_IMAGE_ROOT:-hardrun-test/busybox:1}
APP_IMAGE=${HARDRUN_TEST_IMAGE:-hardrun-test/busybox-app:1}
LABEL=org.hardrun.test=1

build() {
  local busybox=/bin/busybox
  if [ ! -x "$busybox" ] || ! file_is_static "$busybox"; then
    echo "image.sh: needs a static busybox at /bin/busybox (apt-get install busybox-static)" >&2
    exit 1
  fi
  local dir
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' RETURN
  mkdir -p "$dir"/{bin,etc,tmp,home/app,proc,sys,dev,run,var/tmp}
  chmod 1777 "$dir/tmp" "$dir/var/tmp"
  cp "$busybox" "$dir/bin/busybox"
  for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$dir/bin/$applet"
  done
  cat >"$dir/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
app:x:10001:10001:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PW
  cat >"$dir/etc/group" <<'GR'
root:x:0:
app:x:10001:
nogroup:x:65534:
GR
  chown -R 10001:10001 "$dir/home/app"
  tar -C "$dir" -cf "$dir.tar" .
  docker import -c "LABEL $LABEL" -c 'ENV PATH=/bin' -c 'CMD ["/bin/sh"]' \
    "$dir.tar" "$ROOT_IMAGE" >/dev/null
  docker import -c "LABEL $LABEL" -c 'ENV PATH=/bin' -c 'CMD ["/bin/sh"]' \
    -c 'USER 10001:10001' -c 'WORKDIR /home/app' "$dir.tar" "$APP_IMAGE" >/dev/null
  rm -f "$dir.tar"
  echo "built $ROOT_IMAGE and $APP_IMAGE"
}

file_is_static() {
  # A dynamically linked busybox would not run in an image without a libc.
  ! ldd "$1" >/dev/null 2>&1
}

remove() {
  docker image rm -f "$ROOT_IMAGE" "$APP_IMAGE" >/dev/null 2>&1 || true
  # Dangling images of earlier builds (tagged images of other runs stay).
  docker image prune -f --filter label=org.hardrun.test=1 >/dev/null 2>&1 || true
}

case "${1:-}" in
  build) build ;;
  remove) remove ;;
  *) echo "usage: image.sh build|remove" >&2; exit 2 ;;
esac
