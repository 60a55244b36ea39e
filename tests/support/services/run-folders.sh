#!/bin/sh
# Folders under /run, which mmdebstrap keeps mounted over while its hooks run: appended
# to the root filesystem archive $1 as the official images' Dockerfiles make them.
set -eu
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging/run/nginx" "$staging/run/postgresql"
chmod 755 "$staging/run/nginx"
# PostgreSQL's socket folder: world-writable, sticky and setgid, owned by postgres.
chmod 3777 "$staging/run/postgresql"
tar -rf "$1" -C "$staging" --owner=33 --group=33 --no-recursion ./run/nginx
tar -rf "$1" -C "$staging" --owner=999 --group=999 --no-recursion ./run/postgresql
