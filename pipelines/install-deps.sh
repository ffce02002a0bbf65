#!/usr/bin/env bash
# install-deps.sh - install what arxiv needs on Debian bookworm (run as root).
#   pipelines/install-deps.sh          build, run and test
#   pipelines/install-deps.sh --bench  also the peers of `make bench`
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(
	# build and runtime
	build-essential pkg-config libtorch-dev libopenblas-dev libjansson-dev
	libutf8proc-dev libstemmer-dev libcurl4-openssl-dev zlib1g-dev
	parallel curl ca-certificates unzip jq gnuplot-nox libxml2-dev
	# tests: bats, man page lint, sanitizers and libFuzzer, the browser test
	bats mandoc shellcheck clang libfuzzer-14-dev libclang-rt-14-dev
	chromium python3 python3-venv python3-websocket python3-torch
	# similar-paper search in PostgreSQL: the server, libpq, and what builds pgvector
	postgresql-15 postgresql-server-dev-15 libpq-dev dpkg-dev
	# tests: fault injection (a kill at each rename of arxiv-train -f)
	strace
	# arxiv-hpo: trials over ssh (GNU parallel, rsync) and as a Slurm job array
	openssh-server openssh-client rsync slurm-wlm munge
	# deployment: the Compose stack (make docker-check: dockerd, docker-compose 1.29,
	# the debootstrapped base image), compose.yaml's check, systemd-analyze verify
	docker.io docker-compose debootstrap systemd
)
if [ "${1:-}" = --bench ]; then
	pkgs+=(wrk hyperfine time fasttext python3-sklearn python3-nltk wordnet)
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: run as root (apt-get install)" >&2
	exit 1
fi
apt-get update
apt-get install -y --no-install-recommends "${pkgs[@]}"

# pgvector is not packaged for bookworm: build Debian trixie's source package
# (pgvector 0.8.0) against PostgreSQL 15. The deb-src line uses the archive this
# machine's apt already uses, read from its sources at run time, and lives in a
# temporary apt state, so the system's own sources stay as they are.
apt_mirror() {
	{
		awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' \
			/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
		awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i }' \
			/etc/apt/sources.list.d/*.sources 2>/dev/null
	} | grep -v -e security -e updates | grep -E '/debian/?$' | head -n 1
}
install_pgvector() {
	local pgc=/usr/lib/postgresql/15/bin/pg_config mirror tmp src
	[ -e "$("$pgc" --sharedir)/extension/vector.control" ] && return 0
	mirror=$(apt_mirror)
	[ -n "$mirror" ] || { echo "install-deps.sh: no Debian archive in /etc/apt/sources.list*" >&2; return 1; }
	tmp=$(mktemp -d)
	mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial"
	echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" > "$tmp/sources.list"
	local apt=(-o Dir::Etc::SourceList="$tmp/sources.list" -o Dir::Etc::SourceParts=/nonexistent
		-o Dir::State::Lists="$tmp/lists" -o Dir::Cache="$tmp/cache" -o APT::Sandbox::User=root)
	apt-get "${apt[@]}" update
	(cd "$tmp" && apt-get "${apt[@]}" source pgvector)
	src=$(find "$tmp" -maxdepth 1 -type d -name 'pgvector-*' | head -n 1)
	# OPTFLAGS= as Debian builds it: no -march=native, the binary runs on any x86-64.
	make -C "$src" PG_CONFIG="$pgc" OPTFLAGS= -j"$(nproc)"
	make -C "$src" PG_CONFIG="$pgc" OPTFLAGS= install
	rm -rf "$tmp"
}
install_pgvector
