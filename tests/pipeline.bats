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

@test "run_pipeline.sh names a missing option value and an unknown option" {
	run "$PIPE" --data
	assert_status 2
	[ "${lines[0]}" = "run_pipeline.sh: --data: option requires an argument" ] || { echo "first line: ${lines[0]}"; return 1; }
	run "$PIPE" --data --limit 5
	assert_status 2
	[ "${lines[0]}" = "run_pipeline.sh: --data: option requires an argument" ] || { echo "first line: ${lines[0]}"; return 1; }
	run "$PIPE" --seed=
	assert_status 2
	[ "${lines[0]}" = "run_pipeline.sh: --seed: option requires an argument" ] || { echo "first line: ${lines[0]}"; return 1; }
	run "$PIPE" --frobnicate --data x
	assert_status 2
	[ "${lines[0]}" = "run_pipeline.sh: unknown option: --frobnicate" ] || { echo "first line: ${lines[0]}"; return 1; }
	assert_output_contains "usage: run_pipeline.sh"
	run "$PIPE" --help
	assert_success
	for o in --data --workdir --artifacts --model --vocab --bert-init --bert-config --limit \
		--seed --tune --listen --no-serve --skip-download --force --help; do
		echo "$output" | grep -qE "^ +(-h, )?$o" || { echo "--help does not list $o"; return 1; }
	done
}

# stage_lines: "name state" for each progress line of the last run (state: skipped or ran).
stage_lines() {
	echo "$output" | sed -nE 's/^run_pipeline.sh: ([a-z]+) +(skipped)? ?.*\([0-9.]+s\)$/\1 \2/p' |
		sed -E 's/ $/ ran/'
}

@test "run_pipeline.sh reruns exactly the stages whose inputs or options changed" {
	need_shared 1
	need_shared 2
	zcat "$(shared_part 1)" | head -n 600 > a.jsonl
	zcat "$(shared_part 2)" | head -n 300 | gzip > b.jsonl.gz
	run "$PIPE" --data a.jsonl --workdir w --no-serve
	assert_success
	[ "$(stage_lines | tr '\n' ' ')" = "map ran clean ran split ran train ran eval ran stats ran explore ran embedder ran vectors ran index ran " ] || { echo "$output"; return 1; }
	ls w/*.stamp
	# unchanged: everything skipped
	run "$PIPE" --data a.jsonl --workdir w --no-serve
	assert_success
	[ "$(stage_lines | tr '\n' ' ')" = "map skipped clean skipped split skipped train skipped eval skipped stats skipped explore skipped embedder skipped vectors skipped index skipped " ] || { echo "$output"; return 1; }
	# another seed: the split and what follows it
	run "$PIPE" --data a.jsonl --workdir w --no-serve --seed 7
	assert_success
	[ "$(stage_lines | tr '\n' ' ')" = "map skipped clean skipped split ran train ran eval ran stats skipped explore ran embedder skipped vectors skipped index skipped " ] || { echo "$output"; return 1; }
	# another limit: everything from map on
	run "$PIPE" --data a.jsonl --workdir w --no-serve --seed 7 --limit 500
	assert_success
	[ "$(stage_lines | tr '\n' ' ')" = "map ran clean ran split ran train ran eval ran stats ran explore ran embedder ran vectors ran index ran " ] || { echo "$output"; return 1; }
	[ "$(wc -l < w/mapped.jsonl)" -eq 500 ]
	# a dump in two parts, one of them gzip, as a comma list then as repeated --data
	run "$PIPE" --data a.jsonl,b.jsonl.gz --workdir w --no-serve --seed 7
	assert_success
	echo "$output" | grep -qE "run_pipeline.sh: map +900 records" || { echo "$output"; return 1; }
	run "$PIPE" --data a.jsonl --data=b.jsonl.gz --workdir w --no-serve --seed 7
	assert_success
	[ "$(stage_lines | tr '\n' ' ')" = "map skipped clean skipped split skipped train skipped eval skipped stats skipped explore skipped embedder skipped vectors skipped index skipped " ] || { echo "$output"; return 1; }
	# another file at the same path: map reruns
	head -n 400 a.jsonl > a2.jsonl && mv a2.jsonl a.jsonl
	run "$PIPE" --data a.jsonl --workdir w --no-serve --seed 7
	assert_success
	echo "$output" | grep -qE "run_pipeline.sh: map +400 records" || { echo "$output"; return 1; }
	# an output replaced behind the pipeline's back: that stage reruns
	cp w/report.json r && mv r w/report.json
	run "$PIPE" --data a.jsonl --workdir w --no-serve --seed 7
	assert_success
	[ "$(stage_lines | tr '\n' ' ')" = "map skipped clean skipped split skipped train skipped eval ran stats skipped explore ran embedder skipped vectors skipped index skipped " ] || { echo "$output"; return 1; }
}

@test "run_pipeline.sh works outside the checkout by default (XDG cache), never in the source tree" {
	need_shared 1
	zcat "$(shared_part 1)" | head -n 300 > a.jsonl
	before=$(cd "$TOP" && git status --porcelain --ignored 2>/dev/null | sort)
	XDG_CACHE_HOME=$TMP/cache run "$PIPE" --data "$TMP/a.jsonl" --no-serve
	assert_success
	[ -f "$TMP/cache/arxiv/work/report.json" ]
	[ -f "$TMP/cache/arxiv/work/artifacts/metadata/artifact.json" ]
	after=$(cd "$TOP" && git status --porcelain --ignored 2>/dev/null | sort)
	[ "$before" = "$after" ] || { echo "the checkout changed:"; diff <(echo "$before") <(echo "$after"); return 1; }
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
	[ "$(jq .records w/stats.json)" -eq 4000 ]
	if command -v gnuplot >/dev/null; then grep -q '<h2>Model evaluation</h2>' w/report/index.html; fi
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
	pred=$output pst=$status
	# the embedding-storage stage: the server answers similar papers from w/papers.axi
	id=$(head -n 1 w/mapped.jsonl | jq -r .id)
	sim=$(curl -fs "http://127.0.0.1:$port/api/similar/" -d "{\"id\":\"$id\",\"k\":3}")
	ready=$(curl -fs "http://127.0.0.1:$port/readyz")
	kill -TERM "$pid"
	wait "$pid" || true
	output=$pred status=$pst
	assert_success
	assert_output_contains '"predicted_category":"'
	assert_output_contains '"top_k":[{"label":"'
	[ "$(jq '.similar | length' <<<"$sim")" -eq 3 ] || { echo "$sim"; cat pipe.log; return 1; }
	[ "$(jq -c '.index | {kind, size}' <<<"$ready")" = '{"kind":"file","size":3000}' ]
}

@test "run_pipeline.sh --tune N runs arxiv-hpo instead of one training" {
	need_shared 1
	zcat "$(shared_part 1)" | head -n 600 > a.jsonl
	run "$PIPE" --data a.jsonl --workdir w --no-serve --tune 3
	assert_success
	echo "$output" | grep -qE "run_pipeline.sh: train +w/artifacts \(best of 3 trials" || { echo "$output"; return 1; }
	[ "$(python3 -c 'import json; print(json.load(open("w/artifacts/metadata/best_hyperparams.json"))["n_trials"])')" = 3 ]
	[ "$(grep -c '"type":"end"' w/artifacts/hpo/journal.jsonl)" = 3 ]
	[ -s w/report.json ]
	# the search is an option of the train stage: without it, a plain training reruns
	run "$PIPE" --data a.jsonl --workdir w --no-serve
	assert_success
	[ "$(stage_lines | tr '\n' ' ')" = "map skipped clean skipped split skipped train ran eval ran stats skipped explore ran " ] || { echo "$output"; return 1; }
	run "$PIPE" --data a.jsonl --workdir w --no-serve --tune x
	assert_failure
	assert_output_contains "--tune: not a number: 'x'"
}
