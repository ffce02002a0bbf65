#!/bin/sh
# arxiv-entrypoint - the arxiv image's entry point. "arxiv-serve" with no further
# arguments is configured by the environment:
#   ARXIV_ARTIFACTS  the artifacts directory (-m), default /var/lib/arxiv/store/artifacts
#   ARXIV_LISTEN     HOST:PORT to listen on (-l), default 0.0.0.0:8000
#   ARXIV_DSN        PostgreSQL DSN of the similar-papers index, passed with --dsn
#                    when this arxiv-serve has that option
# Anything else runs as given. exec: the program is PID 1 and gets SIGHUP/SIGTERM.
set -eu
if [ "$#" -eq 1 ] && [ "$1" = arxiv-serve ]; then
	set -- arxiv-serve -m "${ARXIV_ARTIFACTS:-/var/lib/arxiv/store/artifacts}" -l "${ARXIV_LISTEN:-0.0.0.0:8000}"
	if [ -n "${ARXIV_DSN:-}" ]; then
		if arxiv-serve --help 2>&1 | grep -q -- '--dsn'; then
			set -- "$@" --dsn "$ARXIV_DSN"
		else
			echo "arxiv-entrypoint: this arxiv-serve has no --dsn; ARXIV_DSN ignored" >&2
		fi
	fi
fi
exec "$@"
