#!/usr/bin/env bats
# pipeline.bats - pipelines/run_pipeline.sh end to end on a small slice of the real data.
load helper

PIPE="$TOP/pipelines/run_pipeline.sh"

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

@test "run_pipeline.sh --help and a bad option" {
	run "$PIPE" --help
	assert_success
	assert_output_contains "usage: run_pipeline.sh"
	run "$PIPE" --bogus
	assert_status 2
	run "$PIPE" --model gpt --data x
	assert_failure "run_pipeline.sh: --model: expected fast or bert, got 'gpt'"
}

@test "run_pipeline.sh without data or credentials fails clearly" {
	run env -u KAGGLE_USERNAME -u KAGGLE_KEY "$PIPE" --workdir w --no-serve
	assert_failure
	assert_output_contains "KAGGLE_USERNAME/KAGGLE_KEY not set"
	run "$PIPE" --workdir w --no-serve --skip-download
	assert_failure
	assert_output_contains "no --data FILE given and --skip-download set"
}

@test "run_pipeline.sh runs map..eval on 4000 records, then skips fresh stages, --force reruns" {
	need_shared 1
	data=$(shared_part 1)
	run "$PIPE" --data "$data" --limit 4000 --workdir w --no-serve
	assert_success
	for s in map clean split train eval; do
		echo "$output" | grep -qE "run_pipeline.sh: $s +.*\([0-9.]+s\)" || { echo "no progress line for $s"; echo "$output"; return 1; }
	done
	[ "$(wc -l < w/mapped.jsonl)" -eq 4000 ]
	n=$(( $(wc -l < w/split/train.jsonl) + $(wc -l < w/split/val.jsonl) + $(wc -l < w/split/test.jsonl) ))
	[ "$n" -eq 4000 ]
	[ -f w/artifacts/metadata/artifact.json ]
	acc=$(python3 -c 'import json,sys; print(json.load(open("w/report.json"))["accuracy"])')
	python3 -c "import sys; sys.exit(0 if $acc > 0.6 else 1)" || { echo "accuracy $acc"; return 1; }
	! ls w/*.tmp w/split/*.tmp 2>/dev/null

	run "$PIPE" --data "$data" --limit 4000 --workdir w --no-serve
	assert_success
	for s in map clean split train eval; do
		echo "$output" | grep -qE "run_pipeline.sh: $s +skipped" || { echo "$s not skipped"; echo "$output"; return 1; }
	done

	touch w/split/train.jsonl
	run "$PIPE" --data "$data" --limit 4000 --workdir w --no-serve
	assert_success
	echo "$output" | grep -qE "run_pipeline.sh: train +w/artifacts" || { echo "train not rerun after its input changed"; echo "$output"; return 1; }

	run "$PIPE" --data "$data" --limit 4000 --workdir w --no-serve --force
	assert_success
	echo "$output" | grep -qE "run_pipeline.sh: map +4000 records" || { echo "$output"; return 1; }
}

@test "run_pipeline.sh ends with a running server on the new artifacts" {
	need_shared 1
	data=$(shared_part 1)
	port=$(free_port)
	"$PIPE" --data "$data" --limit 3000 --workdir w --listen "127.0.0.1:$port" > pipe.log 2>&1 &
	pid=$!
	for _ in $(seq 1 600); do
		curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
		kill -0 "$pid" 2>/dev/null || { cat pipe.log; return 1; }
		sleep 0.2
	done
	run curl -fs "http://127.0.0.1:$port/api/predict/" -H 'Content-Type: application/json' \
		-d '{"abstract":"We prove that every finite group of odd order is solvable.","top_k":2}'
	kill -TERM "$pid"
	wait "$pid" || true
	assert_success
	assert_output_contains '"predicted_category":"'
	assert_output_contains '"top_k":[{"label":"'
}
