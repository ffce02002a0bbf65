#!/usr/bin/env bash
# install-deps.sh - install what arxiv needs on Debian bookworm (run as root).
#   pipelines/install-deps.sh          build, run and test
#   pipelines/install-deps.sh --bench  also the peers of `make bench`
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(
	# build and runtime
	build-essential pkg-config libtorch-dev libopenblas-dev libjansson-dev
	libutf8proc-dev libstemmer-dev libcurl4-openssl-dev libmicrohttpd-dev zlib1g-dev
	parallel curl ca-certificates unzip jq
	# tests: bats, man page lint, sanitizers and libFuzzer, the browser test
	bats mandoc shellcheck clang libfuzzer-14-dev libclang-rt-14-dev
	chromium python3 python3-venv python3-websocket python3-torch
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
