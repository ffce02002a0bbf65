#!/bin/sh
# arxiv-artifacts-in - replace the artifacts directory ($ARXIV_ARTIFACTS, or DIR)
# with the tar archive on the standard input: the archive is unpacked beside it
# and renamed into place (the old one renamed away just before), so a SIGHUP
# loads the old or the new artifacts, never a mixture (in the instant between
# the renames it finds none and arxiv-serve keeps its model). Then send SIGHUP.
#   tar -C work/artifacts -c . | docker compose exec -T api arxiv-artifacts-in
# Into the artifacts directory the archive must hold a model; into another DIR
# (e.g. the similar-papers embedder, /var/lib/arxiv/store/embedder) any
# non-empty archive will do.
set -eu
dir=${1:-${ARXIV_ARTIFACTS:-/var/lib/arxiv/store/artifacts}}
parent=$(dirname "$dir")
new=$(mktemp -d "$parent/.artifacts-in.XXXXXX")
trap 'rm -rf "$new"' EXIT
tar -C "$new" -x --no-same-owner --no-same-permissions
chmod 755 "$new"
if [ "$dir" = "${ARXIV_ARTIFACTS:-/var/lib/arxiv/store/artifacts}" ]; then
	[ -s "$new/metadata/artifact.json" ] ||
		{ echo "arxiv-artifacts-in: no metadata/artifact.json in the archive" >&2; exit 1; }
else
	[ -n "$(ls -A "$new")" ] || { echo "arxiv-artifacts-in: an empty archive" >&2; exit 1; }
fi
if [ -e "$dir" ]; then
	old="$parent/.artifacts-old.$$"
	mv "$dir" "$old"
	mv "$new" "$dir"
	rm -rf "$old"
else
	mv "$new" "$dir"
fi
trap - EXIT
echo "arxiv-artifacts-in: $dir replaced" >&2
