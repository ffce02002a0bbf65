#!/usr/bin/env bash
# tests/docker/check.sh - `make docker-check`: the Compose stack end to end on a real
# Docker engine. Starts dockerd (own data root, exec root and socket) when none
# answers, builds the local Debian bookworm base image (debootstrap, cached), the
# MLflow wheelhouse (cached), every image, brings the stack up under a project name
# of its own on free loopback ports, waits for health, and checks:
#   - the API answers 503 with the reason before any model exists
#   - a tiny model trained natively on the host logs its run to MLflow (REST API)
#   - the artifacts copied into the volume + SIGHUP: POST /api/predict/ answers
#   - the database has the vector extension (and, with --dsn in arxiv-serve, the
#     similar-papers checks, the vectors and a database restart)
#   - the image sizes, times and `docker-compose ps` go to $BUILD/docker-check/
# then removes the containers, networks and volumes it created (the images stay
# in the engine as the cache of the next run; ARXIV_DOCKER_RMI=1 removes them).
# Skips (exit 0, "SKIP" on stderr) only where no Docker engine can be had.
# Env: BUILD (build dir with the programs, default build), ARXIV_CACHE (~/.cache/arxiv).
# The whole script is one { } block: bash parses it before running it, so an
# edit of this file during a run cannot change the run.
{
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
BUILD=${BUILD:-build}
cache=${ARXIV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arxiv}
out=$top/$BUILD/docker-check
mkdir -p "$cache" "$out"
prog=docker-check
t_start=$(date +%s.%N)
say() { printf '%s: [%5.1fs] %s\n' "$prog" "$(awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')" "$*" >&2; }
die() { say "FAIL: $*"; exit 1; }
skip() { say "SKIP: $*"; exit 0; }
stamp() { awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }

[ -x "$BUILD/bin/arxiv-train" ] || die "$BUILD/bin/arxiv-train not built (make first)"

# --- 1. a Docker engine -----------------------------------------------------------
command -v docker >/dev/null || skip "no docker client installed (Debian: docker.io)"
dockerd_pid=''
engine=''
if docker info >/dev/null 2>&1; then
	engine="the running engine (${DOCKER_HOST:-default socket})"
else
	command -v dockerd >/dev/null || skip "no Docker engine answers and dockerd is not installed (Debian: docker.io)"
	[ "$(id -u)" -eq 0 ] || skip "no Docker engine answers and dockerd needs root (rootless Docker is not set up)"
	run_dir=$(mktemp -d /tmp/arxiv-dockerd.XXXXXX)
	# the data root persists in the cache: images built before are the warm cache
	mkdir -p "$cache/docker"
	dockerd --data-root "$cache/docker" --exec-root "$run_dir/exec" --pidfile "$run_dir/dockerd.pid" \
		--host "unix://$run_dir/docker.sock" > "$run_dir/dockerd.log" 2>&1 &
	dockerd_pid=$!
	export DOCKER_HOST=unix://$run_dir/docker.sock
	for _ in $(seq 60); do
		docker info >/dev/null 2>&1 && break
		kill -0 "$dockerd_pid" 2>/dev/null || break
		sleep 0.5
	done
	docker info >/dev/null 2>&1 ||
		skip "dockerd does not start here: $(grep -iE 'error|fatal' "$run_dir/dockerd.log" | tail -n 1)"
	engine="dockerd $(dockerd --version | cut -d' ' -f3 | tr -d ,) started here (pid $dockerd_pid, $run_dir)"
fi
say "engine: $engine"

if docker compose version >/dev/null 2>&1; then
	compose_cmd=(docker compose)
elif command -v docker-compose >/dev/null; then
	compose_cmd=(docker-compose)
else
	skip "neither 'docker compose' nor docker-compose is installed"
fi
say "compose: ${compose_cmd[*]} ($("${compose_cmd[@]}" version --short 2>/dev/null || echo '?'))"

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
project=arxivcheck$$
export ARXIV_BASE=arxiv-base:bookworm
ARXIV_MIRROR=$(deploy/apt-mirror.sh) || die "no bookworm apt source on this machine"
export ARXIV_MIRROR
ARXIV_DB_PORT=$(free_port) ARXIV_MLFLOW_PORT=$(free_port) ARXIV_API_PORT=$(free_port)
export ARXIV_DB_PORT ARXIV_MLFLOW_PORT ARXIV_API_PORT ARXIV_PUBLISH=127.0.0.1
compose() { "${compose_cmd[@]}" -p "$project" -f compose.yaml "$@"; }
api=http://127.0.0.1:$ARXIV_API_PORT
mlflow=http://127.0.0.1:$ARXIV_MLFLOW_PORT
tmp=$(mktemp -d /tmp/arxiv-docker-check.XXXXXX)

# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
	local rc=$?
	if [ "$rc" -ne 0 ]; then
		compose ps > "$out/ps-failed.txt" 2>&1 || true
		compose logs --no-color > "$out/logs.txt" 2>&1 || true
		say "logs of the services in $out/logs.txt"
	fi
	compose down -v --remove-orphans > /dev/null 2>&1 || true
	if [ "${ARXIV_DOCKER_RMI:-0}" = 1 ]; then
		docker rmi arxiv:latest arxiv-db:latest arxiv-mlflow:latest arxiv-trainer:latest \
			"$ARXIV_BASE" > /dev/null 2>&1 || true
	fi
	if [ -n "$dockerd_pid" ]; then
		kill "$dockerd_pid" 2>/dev/null || true
		wait "$dockerd_pid" 2>/dev/null || true
		rm -rf "$run_dir"
	fi
	rm -rf "$tmp" deploy/mlflow/wheelhouse/*.whl deploy/mlflow/wheelhouse/VERSION
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 2. images --------------------------------------------------------------------
deploy/base-image.sh "$ARXIV_BASE"
t_base=$(stamp)
want=$(sed -n 's/^ARG MLFLOW_VERSION=//p' deploy/mlflow/Dockerfile)
if [ "$(cat "$cache/wheelhouse/VERSION" 2>/dev/null)" != "$want" ]; then
	rm -rf "$cache/wheelhouse"
	deploy/mlflow/wheelhouse.sh "$cache/wheelhouse" ||
		die "cannot download the MLflow $want wheelhouse with pip"
fi
cp -l "$cache/wheelhouse/"* deploy/mlflow/wheelhouse/ 2>/dev/null || cp "$cache/wheelhouse/"* deploy/mlflow/wheelhouse/
say "building the images (db, mlflow, api, trainer)"
compose --profile train build > "$out/build.log" 2>&1 || { tail -n 30 "$out/build.log" >&2; die "compose build failed"; }
t_build=$(stamp)
say "built"

# --- 3. the stack up and healthy --------------------------------------------------
health() { docker inspect -f '{{.State.Health.Status}}' "$(compose ps -q "$1")" 2>/dev/null; }
wait_healthy() {
	local s i
	for i in $(seq "$2"); do
		s=$(health "$1")
		[ "$s" = healthy ] && return 0
		sleep 1
	done
	die "$1 is not healthy after $2 s (status: ${s:-none})"
}
up0=$(date +%s.%N)
compose up -d > "$out/up.log" 2>&1 || { cat "$out/up.log" >&2; die "compose up failed"; }
wait_healthy db 120
wait_healthy api 60
wait_healthy mlflow 240
t_up=$(awk -v a="$up0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
say "db, mlflow and api healthy ${t_up}s after up"

# --- 4. the API before any model: 503 with the reason ---------------------------------
req() { curl -sS -o "$tmp/body" -w '%{http_code}' "$@"; }
# make_papers FILE: the 30 papers of tests/helper.bash's make_papers (three topics)
make_papers() {
	# shellcheck source=tests/helper.bash disable=SC2034
	(BATS_TEST_DIRNAME=$top/tests; . "$top/tests/helper.bash"; make_papers "$1")
}
code=$(req -H 'Content-Type: application/json' -d '{"abstract":"Graph neural networks.","top_k":2}' "$api/api/predict/")
[ "$code" = 503 ] || die "POST /api/predict/ before a model: HTTP $code, expected 503: $(cat "$tmp/body")"
grep -q 'no usable artifacts' "$tmp/body" || die "the 503 does not give the reason: $(cat "$tmp/body")"
say "no model yet: POST /api/predict/ -> 503 ($(head -c 120 "$tmp/body"))"

# --- 5. train natively on the host, logging to the MLflow container ----------------
fix=tests/cases/arxiv-eval
MLFLOW_TRACKING_URI=$mlflow "$BUILD/bin/arxiv-train" -j 1 -e 3 -p 9 -o "$tmp/art" \
	"$fix/train.jsonl" "$fix/val.jsonl" > "$tmp/train.log" 2>&1 || { cat "$tmp/train.log" >&2; die "arxiv-train failed"; }
! grep -qi 'warn\|unreachable' "$tmp/train.log" || { cat "$tmp/train.log" >&2; die "arxiv-train warned about MLflow"; }
say "trained on the host into $tmp/art, run logged to $mlflow"

# --- 6. artifacts into the volume, SIGHUP, predictions ------------------------------------
tar -C "$tmp/art" -c . | compose exec -T api arxiv-artifacts-in
compose kill -s HUP api > /dev/null 2>&1
for _ in $(seq 30); do
	[ "$(req "$api/readyz")" = 200 ] && break
	sleep 0.5
done
[ "$(req "$api/readyz")" = 200 ] || die "/readyz after SIGHUP: $(cat "$tmp/body")"
code=$(req -H 'Content-Type: application/json' \
	-d '{"abstract":"We prove a theorem on the cohomology of algebraic varieties.","top_k":2}' "$api/api/predict/")
[ "$code" = 200 ] || die "POST /api/predict/ after SIGHUP: HTTP $code: $(cat "$tmp/body")"
python3 - "$tmp/body" <<'PY' || die "bad prediction: $(cat "$tmp/body")"
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["top_k"]) == 2 and r["top_k"][0]["label"] == r["predicted_category"], r
PY
say "after SIGHUP: POST /api/predict/ -> 200 $(head -c 160 "$tmp/body")"

# --- 7. MLflow shows the run (REST API, from the host) ------------------------------------
python3 - "$mlflow" <<'PY' || die "the run is not in MLflow"
import json, sys, urllib.request
base = sys.argv[1]
def call(path, body=None):
    req = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=10))
exp = call("/api/2.0/mlflow/experiments/get-by-name?experiment_name=arxiv")["experiment"]
runs = call("/api/2.0/mlflow/runs/search", {"experiment_ids": [exp["experiment_id"]]})["runs"]
assert len(runs) == 1, runs
run = runs[0]
assert run["info"]["status"] == "FINISHED", run["info"]
params = {p["key"] for p in run["data"].get("params", [])}
metrics = {m["key"] for m in run["data"].get("metrics", [])}
assert params and metrics, run["data"]
arts = call("/api/2.0/mlflow/artifacts/list?run_id=" + run["info"]["run_id"]).get("files", [])
assert arts, "no artifacts"
print("mlflow: run %s FINISHED, %d params, %d metrics, artifacts %s" % (
    run["info"]["run_id"], len(params), len(metrics), ",".join(a["path"] for a in arts)), file=sys.stderr)
PY

# --- 8. the database --------------------------------------------------------------------
v=$(compose exec -T db psql -qAt -U arxiv -d arxiv -c "SELECT extversion FROM pg_extension WHERE extname = 'vector'")
[ -n "$v" ] || die "no vector extension in the database"
compose exec -T db psql -qAt -U arxiv -d arxiv -c "SELECT '[1,2,3]'::vector <-> '[1,2,4]'::vector" | grep -qx 1 ||
	die "pgvector does not compute distances"
say "db: pgvector $v"
if compose exec -T api sh -c 'arxiv-serve --help 2>&1 | grep -q -- "-d dsn"'; then
	# similar papers: embedder and vectors made on the host, vectors loaded into the
	# database through the published port, the embedder copied into the volume
	dsn=postgresql://arxiv@127.0.0.1:$ARXIV_DB_PORT/arxiv
	make_papers "$tmp/papers.jsonl"
	"$BUILD/bin/arxiv-embed" --learn "$tmp/emb" "$tmp/papers.jsonl" 2> /dev/null
	"$BUILD/bin/arxiv-embed" -e "$tmp/emb" "$tmp/papers.jsonl" > "$tmp/vectors.bin"
	"$BUILD/bin/arxiv-index" -d "$dsn" "$tmp/vectors.bin" 2> "$tmp/index.log" ||
		{ cat "$tmp/index.log" >&2; die "arxiv-index -d into the container's database failed"; }
	n=$(compose exec -T db psql -qAt -U arxiv -d arxiv -c "SELECT count(*) FROM papers")
	[ "$n" = 30 ] || die "the database holds $n papers, expected 30"
	say "db: 30 papers with their vectors in table papers"
	tar -C "$tmp/emb" -c . | compose exec -T api arxiv-artifacts-in /var/lib/arxiv/store/embedder
	compose kill -s HUP api > /dev/null 2>&1
	similar() { req -H 'Content-Type: application/json' -d "$1" "$api/api/similar/"; }
	q='{"abstract":"We study superconductivity in twisted bilayer graphene","k":3}'
	for _ in $(seq 30); do [ "$(similar "$q")" = 200 ] && break; sleep 0.5; done
	[ "$(similar "$q")" = 200 ] || die "POST /api/similar/: $(cat "$tmp/body")"
	python3 - "$tmp/body" <<'PY' || die "bad similar papers: $(cat "$tmp/body")"
import json, sys
r = json.load(open(sys.argv[1]))["similar"]
assert len(r) == 3 and all(p["field"] == "Physics" for p in r), r
PY
	say "POST /api/similar/ -> 200 $(head -c 160 "$tmp/body")"
	# fault: the database restarts while the API runs: 503, then answers again
	compose stop db > /dev/null 2>&1
	code=$(similar "$q")
	[ "$code" = 503 ] || die "POST /api/similar/ with the database down: HTTP $code, expected 503: $(cat "$tmp/body")"
	say "db stopped: POST /api/similar/ -> $code $(head -c 160 "$tmp/body")"
	compose start db > /dev/null 2>&1
	wait_healthy db 120
	for _ in $(seq 60); do [ "$(similar "$q")" = 200 ] && break; sleep 1; done
	[ "$(similar "$q")" = 200 ] || die "POST /api/similar/ after the database came back: $(cat "$tmp/body")"
	say "db back: POST /api/similar/ -> 200 without restarting the API"
else
	say "NOTE: this arxiv-serve has no -d (similar papers not merged): /api/similar/, the vectors and the db restart are not checked"
fi

# --- 8b. the one-shot trainer (profile train) inside Compose -------------------------
# shellcheck disable=SC2031
shared=${ARXIV_SHARED:-$top/../shared}
if [ -r "$shared/data/arxiv-part-000.jsonl.gz" ]; then
	mkdir -p "$tmp/dump"
	(set +o pipefail; zcat "$shared/data/arxiv-part-000.jsonl.gz" | head -n 3000) > "$tmp/dump/dump.jsonl"
	chmod -R a+rX "$tmp"
	ARXIV_DATA=$tmp/dump ARXIV_DUMP=dump.jsonl compose --profile train run --rm trainer \
		> "$out/trainer.log" 2>&1 || { tail -n 20 "$out/trainer.log" >&2; die "the trainer service failed"; }
	compose kill -s HUP api > /dev/null 2>&1
	sleep 1
	for _ in $(seq 30); do [ "$(req "$api/readyz")" = 200 ] && break; sleep 0.5; done
	code=$(req -H 'Content-Type: application/json' -d '{"abstract":"Dark matter halos of dwarf galaxies.","top_k":3}' "$api/api/predict/")
	[ "$code" = 200 ] || die "POST /api/predict/ after the trainer: HTTP $code: $(cat "$tmp/body")"
	runs=$(python3 - "$mlflow" <<'PY'
import json, sys, urllib.request
base = sys.argv[1]
exp = json.load(urllib.request.urlopen(base + "/api/2.0/mlflow/experiments/get-by-name?experiment_name=arxiv", timeout=10))["experiment"]
req = urllib.request.Request(base + "/api/2.0/mlflow/runs/search", json.dumps({"experiment_ids": [exp["experiment_id"]]}).encode(), {"Content-Type": "application/json"})
print(sum(r["info"]["status"] == "FINISHED" for r in json.load(urllib.request.urlopen(req, timeout=10))["runs"]))
PY
)
	[ "$runs" = 2 ] || die "MLflow has $runs finished runs after the trainer, expected 2 (host + trainer)"
	say "trainer (profile train): pipeline on 3000 records in Compose, run logged to mlflow:5001, API reloaded -> 200 $(head -c 100 "$tmp/body")"
else
	say "NOTE: no real data at $shared/data: the trainer service is not checked"
fi

# --- 9. record ----------------------------------------------------------------------------
compose ps > "$out/ps.txt"
cat "$out/ps.txt" >&2
{
	printf 'engine\t%s\n' "$engine"
	printf 'base_image_ready_s\t%s\nimages_built_s\t%s\nup_to_healthy_s\t%s\n' "$t_base" "$t_build" "$t_up"
	for i in "$ARXIV_BASE" arxiv:latest arxiv-trainer:latest arxiv-db:latest arxiv-mlflow:latest; do
		printf 'size\t%s\t%s\n' "$i" "$(docker image inspect -f '{{.Size}}' "$i")"
	done
	# what libtorch would add to the runtime image: the packages apt would install
	# shellcheck disable=SC2016
	printf 'libtorch_adds_kib\t%s\n' "$(docker run --rm --user 0:0 --entrypoint sh arxiv:latest -c '
		apt-get update -qq > /dev/null 2>&1
		apt-get install -s --no-install-recommends libtorch1.13 2>/dev/null | awk "/^Inst /{print \$2}" |
			xargs apt-cache show --no-all-versions 2>/dev/null |
			awk "/^Installed-Size:/{s += \$2} END{print s + 0}"')"
} > "$out/metrics.tsv"
say "total $(stamp)s; sizes and times in $out/metrics.tsv"
cat "$out/metrics.tsv" >&2
exit 0
}
