#!/usr/bin/env bash
# docker.sh - the deployment's numbers from the last `make docker-check`
# ($ARXIV_BUILD/docker-check/metrics.tsv): image sizes (the toolchain runtime
# image's target is < 150 MB without libtorch), the time to build the images and
# the cold start of the stack (compose up to every service healthy), and what
# libtorch would add to the runtime image (the installed size of the packages
# `apt-get install libtorch1.13` would add to it).
set -euo pipefail
m="$ARXIV_BUILD/docker-check/metrics.tsv"
if [ ! -s "$m" ]; then
	echo "docker: SKIPPED: no $m (run make docker-check first; it needs a Docker engine)"
	exit 0
fi
echo "from $m ($(date -u -r "$m" '+%Y-%m-%d %H:%M UTC')):"
awk -F'\t' '
	$1 == "size" { printf "  image %-28s %7.1f MB\n", $2, $3 / 1e6; next }
	$1 == "libtorch_adds_kib" { printf "  libtorch1.13 would add to arxiv:latest %.1f MB installed\n", $2 / 1024; next }
	{ printf "  %-34s %s\n", $1, $2 }' "$m"
