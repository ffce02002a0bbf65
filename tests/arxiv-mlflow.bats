#!/usr/bin/env bats
# arxiv-mlflow.bats - arxiv-train's MLflow runs, read back with MLflow's own
# Python client (tests/tools/mlflow_check.py): the ./mlruns file store, the REST
# API of a real `mlflow server` on loopback, and an unreachable server.
#
# MLflow comes from PyPI into a venv cached at
# ${ARXIV_VENV_DIR:-$HOME/.cache/arxiv}/mlflow-venv; where it cannot be
# installed (no network) the tests that need it skip with pip's reason. Once
# the venv is cached no network is needed.
load helper

FIX="$TOP/tests/cases/arxiv-eval"
CHECK="$TOP/tests/tools/mlflow_check.py"
EPOCHS=3

setup_file() {
	local cache="${ARXIV_VENV_DIR:-$HOME/.cache/arxiv}" py=python3
	export VENV="$cache/mlflow-venv"
	export VENV_WHY="$BATS_FILE_TMPDIR/venv-why"
	[ -x /usr/bin/python3 ] && py=/usr/bin/python3
	mkdir -p "$cache" || { echo "cannot create $cache" > "$VENV_WHY"; return 0; }
	(
		flock 9
		"$VENV/bin/python" -c 'import mlflow' 2>/dev/null && exit 0
		rm -rf "$VENV"
		{ "$py" -m venv "$VENV" &&
			"$VENV/bin/pip" install -q --retries 1 --timeout 20 mlflow; } \
			> "$BATS_FILE_TMPDIR/pip.log" 2>&1 ||
			{ echo "pip cannot install mlflow: $(grep -E 'ERROR|Error' "$BATS_FILE_TMPDIR/pip.log" |
				tail -n 1)" > "$VENV_WHY"; rm -rf "$VENV"; }
	) 9> "$cache/mlflow-venv.lock"
}

need_train() {
	command -v arxiv-train >/dev/null || skip "arxiv-train not built in $ARXIV_BUILD/bin"
}

need_mlflow() {
	if [ -s "$VENV_WHY" ]; then
		skip "MLflow unavailable: $(cat "$VENV_WHY")"
	fi
	"$VENV/bin/python" -c 'import mlflow' 2>/dev/null || skip "MLflow unavailable in $VENV"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

healthy() {
	python3 -c 'import sys, urllib.request
urllib.request.urlopen("http://127.0.0.1:%s/health" % sys.argv[1], timeout=2)' "$1" 2>/dev/null
}

# A tiny training run with a fixed number of epochs (patience > epochs).
train() {
	arxiv-train -j 1 -e "$EPOCHS" -p 9 -b 65536 -o art "$FIX/train.jsonl" "$FIX/val.jsonl"
}

# The run as MLflow's client reads it: params, every epoch of the per-epoch
# metrics, FINISHED, the artifact tree.
check_run() {
	"$VENV/bin/python" "$CHECK" --uri "$1" --runs "${2:-1}" \
		--param epochs="$EPOCHS" --param lr --param model_type=fast \
		--metric train_loss="$EPOCHS" --metric val_loss="$EPOCHS" \
		--metric val_accuracy="$EPOCHS" --metric val_macro_f1="$EPOCHS" \
		--artifact metadata/label2id.json --artifact metadata/metrics.json \
		--artifact model/model.safetensors --artifact model/config.json
}

teardown() {
	# the server and its workers: a process group of their own (setsid)
	if [ -n "${SERVER_PID:-}" ]; then
		local i
		kill -- "-$SERVER_PID" 2>/dev/null || kill "$SERVER_PID" 2>/dev/null
		for i in $(seq 1 20); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.5; done
		kill -9 -- "-$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	cd / && rm -rf "$TMP"
}

@test "mlflow: file store ./mlruns read back by MlflowClient" {
	need_train
	need_mlflow
	run train
	assert_success ""	# no warning
	[ -d mlruns/0 ] && [ -f mlruns/0/meta.yaml ]
	run check_run ./mlruns
	echo "$output"
	assert_success
	# a second run lands in the same experiment
	rm -rf art
	train
	run check_run "file://$TMP/mlruns" 2
	assert_success
}

@test "mlflow: REST API of a real mlflow server on loopback" {
	need_train
	need_mlflow
	local port i
	port=$(free_port)
	# no background job runner (MLflow 3): less to start on a busy machine
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false \
		setsid "$VENV/bin/mlflow" server --host 127.0.0.1 --port "$port" --workers 1 \
		--backend-store-uri "sqlite:///$TMP/mlflow.db" --artifacts-destination "$TMP/mlartifacts" \
		> server.log 2>&1 &
	SERVER_PID=$!
	for i in $(seq 1 120); do
		healthy "$port" && break
		kill -0 "$SERVER_PID" 2>/dev/null || { cat server.log; return 1; }
		sleep 0.5
	done
	healthy "$port" || { echo "server not up after 60 s"; cat server.log; return 1; }
	export MLFLOW_TRACKING_URI="http://127.0.0.1:$port"
	run train
	assert_success ""	# no warning: parameters, metrics and artifacts all accepted
	[ ! -e mlruns ]
	run check_run "$MLFLOW_TRACKING_URI"
	echo "$output"
	assert_success
	# the artifacts went through the server's proxy into its store
	[ -n "$(find "$TMP/mlartifacts" -name label2id.json)" ]
}

@test "mlflow: unreachable server -> the run completes with exactly one warning" {
	need_train
	local port
	port=$(free_port)	# nothing listens there
	MLFLOW_TRACKING_URI="http://127.0.0.1:$port" train > out 2> err
	[ -f art/metadata/label2id.json ]
	[ ! -e mlruns ]
	cat err
	[ "$(wc -l < err)" -eq 1 ]
	grep -q "server unreachable" err
	grep -q "tracking disabled" err
}

@test "mlflow: libcurl is loaded only for an http(s) tracking URI; libarxiv and the filters do not link it" {
	need_train
	local b port
	# (arxiv-harvest is an HTTP client of its own and links libcurl itself)
	for b in "$ARXIV_BUILD"/bin/arxiv-*; do
		[ "${b##*/}" != arxiv-harvest ] || continue
		if ldd "$b" | grep -q libcurl; then echo "$b links libcurl"; return 1; fi
	done
	! ldd "$ARXIV_BUILD/lib/libarxiv.so.1" | grep -q libcurl
	# a file store: never loaded
	LD_DEBUG=files train > out 2> err
	! grep -q "file=libcurl" err
	[ -d mlruns ]
	# a server URI: loaded (dlopen) when the run starts
	rm -rf art mlruns
	port=$(free_port)
	MLFLOW_TRACKING_URI="http://127.0.0.1:$port" LD_DEBUG=files train > out 2> err
	grep -q "file=libcurl.so.4 \[0\];  dynamically loaded by" err
	grep -q "server unreachable" err
}
