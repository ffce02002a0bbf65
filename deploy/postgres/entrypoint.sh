#!/bin/sh
# arxiv-db-entrypoint - create the cluster in $PGDATA on first start (superuser
# $POSTGRES_USER, database $POSTGRES_DB with the vector extension), then run
# PostgreSQL as PID 1. Without POSTGRES_PASSWORD, TCP connections are trusted:
# compose.yaml publishes the port on the host's loopback only.
set -eu
if [ "$#" -eq 1 ] && [ "$1" = postgres ]; then
	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		auth=trust pwopt=''
		if [ -n "${POSTGRES_PASSWORD:-}" ]; then
			auth=scram-sha-256
			printf '%s\n' "$POSTGRES_PASSWORD" > /tmp/pw
			pwopt=--pwfile=/tmp/pw
		fi
		# shellcheck disable=SC2086
		initdb -D "$PGDATA" -U "$POSTGRES_USER" -E UTF8 --no-locale \
			--auth-local=trust --auth-host="$auth" $pwopt > /dev/null
		rm -f /tmp/pw
		echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
		echo "host all all all $auth" >> "$PGDATA/pg_hba.conf"
		pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w -s start
		if [ "$POSTGRES_DB" != postgres ]; then
			psql -q -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres \
				-c "CREATE DATABASE \"$POSTGRES_DB\""
		fi
		psql -q -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" \
			-c 'CREATE EXTENSION IF NOT EXISTS vector'
		pg_ctl -D "$PGDATA" -m fast -w -s stop
		echo "arxiv-db-entrypoint: created $POSTGRES_DB in $PGDATA (host auth: $auth)" >&2
	fi
	set -- postgres -D "$PGDATA"
fi
exec "$@"
