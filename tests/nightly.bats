#!/usr/bin/env bats
# nightly.bats - pipelines/nightly.sh end to end against the fake OAI-PMH server
# (tests/tools/fake_oai.py) with a small fast model trained here.
load helper

NIGHTLY="$TOP/pipelines/nightly.sh"
FIX="$TOP/tests/fixtures/oai"

start_oai() {
	ln -sfn "$FIX/$1" "$TMP/scenario"
	python3 "$TOP/tests/tools/fake_oai.py" "$TMP/scenario" "$TMP/port" "$TMP/requests" 3>&- &
	OPID=$!
	for i in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
	[ -s "$TMP/port" ] || { echo "fake OAI server did not start"; return 1; }
	OAI="http://127.0.0.1:$(cat "$TMP/port")/oai"
}

teardown() {
	[ -z "${OPID:-}" ] || kill "$OPID" 2>/dev/null || true
	cd / && rm -rf "$TMP"
}

# a fast model on 3000 real records, once per file
setup_file() {
	local d="$BATS_FILE_TMPDIR"
	[ -r "$ARXIV_SHARED/data/arxiv-part-000.jsonl.gz" ] || return 0
	zcat "$ARXIV_SHARED/data/arxiv-part-000.jsonl.gz" | head -n 3000 | arxiv-map | arxiv-clean > "$d/clean.jsonl"
	arxiv-split -s 1 -o "$d/split" "$d/clean.jsonl"
	arxiv-train -o "$d/art" "$d/split/train.jsonl" "$d/split/val.jsonl" > /dev/null 2>&1
}

need_model() {
	need_shared 0
	[ -d "$BATS_FILE_TMPDIR/art" ] || { echo "training the test model failed"; return 1; }
	MODEL="$BATS_FILE_TMPDIR/art"
}

@test "nightly.sh --help and a bad option" {
	run "$NIGHTLY" --help
	assert_success
	assert_output_contains "usage: nightly.sh"
	run "$NIGHTLY" --bogus
	assert_status 2
	run "$NIGHTLY" --retrain-day 9
	assert_status 2
}

@test "nightly.sh: harvest -> map -> predict into a dated file, state committed, next run up to date" {
	need_model
	start_oai pages
	run "$NIGHTLY" --dir d --model "$MODEL" --base-url "$OAI" --delay 0 --set cs \
		--from 2026-12-01 --until 2026-12-05
	assert_success
	day=$(date -u +%F)
	[ "$(wc -l < "d/harvested/$day.jsonl")" -eq 4 ]
	[ "$(wc -l < "d/classified/$day.jsonl")" -eq 4 ]
	# each line: the paper's id, true label and fields, and the model's prediction
	jq -e -s 'map(has("id") and has("label") and has("fields") and has("predicted_category")
		and (.top_k | length == 3) and (has("text") | not)) | all' "d/classified/$day.jsonl"
	[ "$(jq -r .id "d/classified/$day.jsonl" | tr '\n' ' ')" = "2612.00001 cs/9901001 2612.00004 2612.00006 " ]
	# the physics paper is classified as physics by a model trained on 2400 abstracts
	[ "$(jq -r 'select(.id == "2612.00006") | .predicted_category' "d/classified/$day.jsonl")" = Physics ]
	grep -qx 'from 2026-12-06' d/harvest.state
	[ "$(wc -l < "$TMP/requests")" -eq 3 ]
	! ls d/.nightly.* 2>/dev/null
	# the same window again: no request, an empty day
	run "$NIGHTLY" --dir d --model "$MODEL" --base-url "$OAI" --delay 0 --set cs --until 2026-12-05
	assert_success
	[ "$(wc -l < "$TMP/requests")" -eq 3 ]
	[ ! -s "d/classified/$day.jsonl" ]
}

@test "nightly.sh: a failed step leaves the harvest state, the next run repeats the window" {
	need_model
	start_oai pages
	run "$NIGHTLY" --dir d --model "$TMP/no-model" --base-url "$OAI" --delay 0 --from 2026-12-01 --until 2026-12-05
	assert_failure
	[ ! -e d/harvest.state ]
	printf 'arxiv-harvest-state 1\nfrom 2026-12-01\nbase-url %s\nset -\n' "$OAI" > d/harvest.state
	cp d/harvest.state st.orig
	run "$NIGHTLY" --dir d --model "$TMP/no-model" --base-url "$OAI" --delay 0 --until 2026-12-05
	assert_failure
	cmp d/harvest.state st.orig
	: > "$TMP/requests"
	run "$NIGHTLY" --dir d --model "$MODEL" --base-url "$OAI" --delay 0 --until 2026-12-05
	assert_success
	head -1 "$TMP/requests" | grep -q 'from=2026-12-01&until=2026-12-05'
	grep -qx 'from 2026-12-06' d/harvest.state
}

@test "nightly.sh: the index step runs arxiv-embed | arxiv-index -d when arxiv-index is installed" {
	need_model
	start_oai pages
	mkdir stubs
	printf '#!/bin/sh\necho "embed $*" >> %s/calls\ncat "$3" | wc -l\n' "$TMP" > stubs/arxiv-embed
	printf '#!/bin/sh\necho "index $*" >> %s/calls\ncat > %s/vectors\n' "$TMP" "$TMP" > stubs/arxiv-index
	chmod +x stubs/*
	# without arxiv-index: skipped, said so (a PATH with every program but arxiv-index)
	mkdir noindex
	for p in "$ARXIV_BUILD"/bin/arxiv-*; do
		[ "${p##*/}" = arxiv-index ] || ln -s "$p" noindex/
	done
	PATH="$TMP/noindex:/usr/local/bin:/usr/bin:/bin" run "$NIGHTLY" --dir d --model "$MODEL" --base-url "$OAI" --delay 0 --until 2026-12-05 \
		--from 2026-12-01 --index-db postgresql://x/arxiv --embed-model emb
	assert_success
	assert_output_contains "index: skipped: arxiv-index is not installed"
	[ ! -e calls ]
	rm -rf d
	PATH="$TMP/stubs:$PATH" run "$NIGHTLY" --dir d --model "$MODEL" --base-url "$OAI" --delay 0 \
		--until 2026-12-05 --from 2026-12-01 --index-db postgresql://x/arxiv --embed-model emb
	assert_success
	assert_output_contains "index: upserted 4 papers"
	# the two stubs run as one pipeline, so their lines come in either order
	[ "$(sed "s|[^ ]*/mapped.jsonl|MAPPED|" calls | sort | tr '\n' '|')" = "embed -e emb MAPPED|index -d postgresql://x/arxiv|" ] ||
		{ cat calls; return 1; }
	[ "$(tr -d ' ' < vectors)" = 4 ]
}

@test "the crontab line and the systemd units run nightly.sh" {
	grep -Eq '^15 5 \* \* \* arxiv /opt/arxiv/pipelines/nightly.sh --dir /var/lib/arxiv ' "$TOP/data/arxiv-nightly.cron"
	grep -qx 'ExecStart=/opt/arxiv/pipelines/nightly.sh --dir /var/lib/arxiv --retrain-day 7 --dump /var/lib/arxiv/arxiv-metadata-oai-snapshot.json' \
		"$TOP/data/systemd/arxiv-nightly.service"
	grep -qx 'OnCalendar=\*-\*-\* 05:15:00 UTC' "$TOP/data/systemd/arxiv-nightly.timer"
	if command -v systemd-analyze > /dev/null; then
		run systemd-analyze calendar '*-*-* 05:15:00 UTC'
		assert_success
	fi
}
