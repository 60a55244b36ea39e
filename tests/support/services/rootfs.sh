#!/bin/sh
# mmdebstrap customize hook: shapes the root filesystem at $1 the way the services'
# official images are shaped (service users with fixed ids, folders owned by them,
# world-writable runtime folders), with configuration written for this test.
set -eu
root=$1
chown_to() { chroot "$root" chown "$@"; }

# Small: no documentation, no package lists, no caches.
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
  "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/debconf/*-old \
  "$root"/var/log/*.log "$root"/var/log/apt/*
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'en*' -exec rm -rf {} + 2>/dev/null || true
# Prometheus's web UI time zone data and its promtool: a quarter of the size, unused here.
rm -rf "$root/usr/share/javascript/moment-timezone/data/unpacked" "$root/usr/bin/promtool"

# nginx, shaped like nginx-unprivileged: port 8080, pid and temp files in folders owned
# by its user, logs to the container's output.
cat >"$root/etc/nginx/nginx.conf" <<'CONF'
worker_processes 1;
pid /run/nginx/nginx.pid;
error_log stderr notice;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    access_log /dev/stdout;
    server {
        listen 8080;
        root /var/www/html;
        location / { try_files $uri $uri/ =404; }
    }
}
CONF
# (/run is mounted over while hooks run: the Dockerfiles make its folders.)
mkdir -p "$root/var/www/html"
echo 'hello from nginx' >"$root/var/www/html/index.html"
chown_to www-data:www-data /var/lib/nginx

# PostgreSQL, shaped like the official image: data folder owned by postgres but
# world-writable (any --user may init it); the Dockerfile makes the socket folder.
mkdir -p "$root/var/lib/postgresql/data"
chown_to -R postgres:postgres /var/lib/postgresql
chmod 1777 "$root/var/lib/postgresql/data"

# Redis: its data folder belongs to redis.
mkdir -p "$root/data"
chown_to redis:redis /data

# Prometheus, shaped like prom/prometheus: configuration and storage owned by nobody.
mkdir -p "$root/prometheus"
cat >"$root/etc/prometheus/prometheus.yml" <<'CONF'
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['127.0.0.1:9090']
CONF
chown_to -R nobody:nogroup /etc/prometheus /prometheus

# A Flask app under gunicorn with SQLite, run as its own user.
echo 'app:x:10001:10001:app:/app:/usr/sbin/nologin' >>"$root/etc/passwd"
echo 'app:x:10001:' >>"$root/etc/group"
mkdir -p "$root/app/instance"
cat >"$root/app/app.py" <<'PY'
import os
import sqlite3
import tempfile

from flask import Flask, jsonify, request

app = Flask(__name__, instance_path="/app/instance")
DB = os.path.join(app.instance_path, "items.db")


def db():
    conn = sqlite3.connect(DB)
    conn.execute("CREATE TABLE IF NOT EXISTS items (name TEXT NOT NULL)")
    return conn


@app.post("/items")
def add():
    # Uploads are spooled to a temporary file, as web apps do with request bodies.
    with tempfile.TemporaryFile() as spool:
        spool.write(request.get_data())
        spool.seek(0)
        name = spool.read().decode()
    with db() as conn:
        conn.execute("INSERT INTO items VALUES (?)", (name,))
    return jsonify(added=name), 201


@app.get("/items")
def items():
    with db() as conn:
        return jsonify([r[0] for r in conn.execute("SELECT name FROM items ORDER BY rowid")])
PY
chown_to -R 10001:10001 /app/instance

# The package made a cluster of its own; the entrypoint makes one in the data folder.
rm -rf "$root/var/lib/postgresql/15" "$root/etc/postgresql/15"
