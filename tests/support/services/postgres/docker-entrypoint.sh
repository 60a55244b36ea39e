#!/bin/bash
# As root: make the data folder postgres's and start again as postgres (gosu).
# As the service user already: initialise the cluster on first start, then run.
set -Eeuo pipefail

if [ "${1:0:1}" = '-' ]; then
	set -- postgres "$@"
fi

if [ "$1" = 'postgres' ] && [ "$(id -u)" = '0' ]; then
	mkdir -p "$PGDATA"
	chown -R postgres:postgres "$PGDATA"
	chmod 700 "$PGDATA"
	exec gosu postgres "$BASH_SOURCE" "$@"
fi

if [ "$1" = 'postgres' ]; then
	mkdir -p "$PGDATA"
	chmod 700 "$PGDATA" || :
	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		if [ -z "${POSTGRES_PASSWORD:-}" ]; then
			echo 'error: the database is uninitialised and POSTGRES_PASSWORD is not set' >&2
			exit 1
		fi
		initdb --username=postgres --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
			--auth-local=trust --auth-host=scram-sha-256 -D "$PGDATA"
		printf '\nhost all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
		printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
	fi
fi

exec "$@"
