# tests/pg.bash - a throwaway PostgreSQL 15 with pgvector for the tests that
# need the real thing. Load it after helper.bash and call pg_start in
# setup_file, pg_stop in teardown_file:
#
#   setup_file()    { pg_start; }
#   teardown_file() { pg_stop; }
#
# pg_start initdb's a cluster in a temporary directory (as the postgres user
# when the tests run as root: initdb refuses root), listens on 127.0.0.1 at a
# free port picked now and on a unix socket in that directory, and exports
# PGHOST, PGPORT, PGUSER and PGDATABASE (libpq reads them) and PG_DSN, a
# postgresql:// URI of the same server over TCP. pg_stop stops it by the PID
# in postmaster.pid and removes the directory. ARXIV_PG_OPTS adds server
# options (the benchmarks: -c shared_buffers=1GB). Where PostgreSQL 15 or pgvector
# are missing, every test of the file skips loudly with the reason.

PG_BIN="${ARXIV_PG_BIN:-/usr/lib/postgresql/15/bin}"

# Run a command as the cluster's owner.
pg_as() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Why PostgreSQL with pgvector cannot be had here, or nothing.
pg_missing() {
	[ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL 15 not installed ($PG_BIN/initdb; pipelines/install-deps.sh)"; return; }
	[ -e "$("$PG_BIN/pg_config" --sharedir)/extension/vector.control" ] ||
		{ echo "pgvector not installed for PostgreSQL 15 (pipelines/install-deps.sh builds it)"; return; }
	if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
		echo "running as root and no postgres user to run the server as"; return
	fi
}

pg_start() {
	PG_SKIP=$(pg_missing)
	export PG_SKIP
	[ -z "$PG_SKIP" ] || return 0
	PG_DIR=$(mktemp -d "${BATS_TMPDIR:-/tmp}/arxiv-pg.XXXXXX")
	chmod 755 "$PG_DIR"
	[ "$(id -u)" -ne 0 ] || chown postgres "$PG_DIR"
	PGPORT=$(pg_free_port)
	(cd / && pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --no-locale) \
		>"$PG_DIR/initdb.log" 2>&1 || { PG_SKIP="initdb failed: $(tail -n 1 "$PG_DIR/initdb.log")"; return 0; }
	(cd / && pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
		-o "-p $PGPORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off ${ARXIV_PG_OPTS:-}" \
		start >/dev/null) || { PG_SKIP="server did not start: $(tail -n 3 "$PG_DIR/server.log")"; return 0; }
	export PG_DIR PGPORT PGHOST="$PG_DIR" PGUSER=postgres PGDATABASE=postgres
	export PG_DSN="postgresql://postgres@127.0.0.1:$PGPORT/postgres"
	"$PG_BIN/psql" -qAt -c 'CREATE EXTENSION vector' >/dev/null 2>"$PG_DIR/ext.log" ||
		PG_SKIP="CREATE EXTENSION vector failed: $(cat "$PG_DIR/ext.log")"
}

# need_pg: in a test, skip loudly when pg_start could not give a server.
need_pg() {
	[ -z "${PG_SKIP:-}" ] || skip "$PG_SKIP"
}

# pg_newdb NAME: a fresh database with the extension; PGDATABASE and PG_DSN point to it.
pg_newdb() {
	"$PG_BIN/psql" -qAt -d postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null &&
		"$PG_BIN/psql" -qAt -d "$1" -c 'CREATE EXTENSION vector' >/dev/null || return 1
	export PGDATABASE="$1" PG_DSN="postgresql://postgres@127.0.0.1:$PGPORT/$1"
}

# psql with the test server's settings: pg_sql 'SELECT ...'
pg_sql() {
	"$PG_BIN/psql" -qAtX -v ON_ERROR_STOP=1 -c "$1"
}

pg_pid() {
	head -n 1 "$PG_DIR/data/postmaster.pid" 2>/dev/null
}

pg_stop() {
	local pid
	[ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR" ] || return 0
	pid=$(pg_pid)
	if [ -n "$pid" ]; then
		kill -INT "$pid" 2>/dev/null	# fast shutdown
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -rf "$PG_DIR"
}

# pg_restart: start the stopped server again on the same port and directory.
pg_restart() {
	(cd / && pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
		-o "-p $PGPORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off ${ARXIV_PG_OPTS:-}" \
		start >/dev/null)
}

# pg_kill_server: stop the server now (immediate shutdown), keeping its files.
pg_kill_server() {
	local pid
	pid=$(pg_pid)
	[ -n "$pid" ] || return 0
	kill -QUIT "$pid" 2>/dev/null
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
}
