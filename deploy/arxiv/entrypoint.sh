#!/bin/sh
# arxiv-entrypoint - the arxiv image's entry point. "arxiv-serve" with no further
# arguments is configured by the environment:
#   ARXIV_ARTIFACTS  the artifacts directory (-m), default /var/lib/arxiv/store/artifacts
#   ARXIV_LISTEN     HOST:PORT to listen on (-l), default 0.0.0.0:8000
#   ARXIV_DSN        PostgreSQL DSN of the similar-papers vectors (-d)
#   ARXIV_INDEX      or a local similar-papers index file (-i)
#   ARXIV_EMBEDDER   the embedder directory for similar-papers queries (-e)
# The last three only where this arxiv-serve has those options (similar papers).
# Anything else runs as given. exec: the program is PID 1 and gets SIGHUP/SIGTERM.
set -eu
if [ "$#" -eq 1 ] && [ "$1" = arxiv-serve ]; then
	set -- arxiv-serve -m "${ARXIV_ARTIFACTS:-/var/lib/arxiv/store/artifacts}" -l "${ARXIV_LISTEN:-0.0.0.0:8000}"
	help=$(arxiv-serve --help 2>&1 || true)
	# has OPTION NAME: this arxiv-serve's usage lists OPTION (else say NAME is ignored)
	has() {
		case $help in *"$1 "*) return 0 ;; esac
		echo "arxiv-entrypoint: this arxiv-serve has no $1; $2 ignored" >&2
		return 1
	}
	[ -z "${ARXIV_DSN:-}" ] || ! has -d ARXIV_DSN || set -- "$@" -d "$ARXIV_DSN"
	[ -z "${ARXIV_INDEX:-}" ] || ! has -i ARXIV_INDEX || set -- "$@" -i "$ARXIV_INDEX"
	[ -z "${ARXIV_EMBEDDER:-}" ] || ! has -e ARXIV_EMBEDDER || set -- "$@" -e "$ARXIV_EMBEDDER"
fi
exec "$@"
