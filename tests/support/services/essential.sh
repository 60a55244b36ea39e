#!/bin/sh
# mmdebstrap essential hook: the service users with the fixed ids official images give
# them, created before the packages' postinst would pick ids of its own.
set -eu
root=$1
cat >>"$root/etc/passwd" <<'PW'
postgres:x:999:999:PostgreSQL administrator:/var/lib/postgresql:/bin/bash
redis:x:998:998::/var/lib/redis:/usr/sbin/nologin
PW
cat >>"$root/etc/group" <<'GR'
postgres:x:999:
redis:x:998:
GR
