#!/usr/bin/env bats
# arxiv-harvest.bats - against a fake OAI-PMH server on a free loopback port
# (tests/tools/fake_oai.py) replaying tests/fixtures/oai/: paging, deleted
# records, 503 + Retry-After, malformed XML, empty result, bad format, state.
load helper

USAGE="usage: arxiv-harvest [--from=date] [--until=date] [--set=spec] [--state=file] [--base-url=url] [--delay=s] [--retries=n] [--timeout=s] [--deleted] [-k | --keep-going] [--verbose]"
FIX="$TOP/tests/fixtures/oai"

# start_oai SCENARIO: the fake server on a free port; OAI (base URL), OPID.
start_oai() {
	ln -sfn "$FIX/$1" "$TMP/scenario"
	python3 "$TOP/tests/tools/fake_oai.py" "$TMP/scenario" "$TMP/port" "$TMP/requests" 3>&- &
	OPID=$!
	for i in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
	[ -s "$TMP/port" ] || { echo "fake OAI server did not start"; return 1; }
	OAI="http://127.0.0.1:$(cat "$TMP/port")/oai"
}

scenario() { ln -sfn "$1" "$TMP/scenario"; }

teardown() {
	[ -z "${OPID:-}" ] || kill "$OPID" 2>/dev/null || true
	cd / && rm -rf "$TMP"
}

requests() { cut -d' ' -f2- "$TMP/requests"; }

harvest() { arxiv-harvest --delay 0 --base-url "$OAI" "$@"; }

@test "arxiv-harvest --help lists every option and exits 0" {
	run arxiv-harvest --help
	assert_success
	[ "$(synopsis)" = "$USAGE" ]
	for o in --from --until --set --state --base-url --delay --retries --timeout --deleted \
		--keep-going --verbose --help --version; do
		assert_output_contains -- "$o"
	done
}

@test "arxiv-harvest usage errors exit 2" {
	run arxiv-harvest --bogus
	assert_status 2
	[ "$(synopsis)" = "$USAGE" ]
	run arxiv-harvest extra
	assert_status 2
	[ "${lines[0]}" = "arxiv-harvest: extra: no operands expected" ]
	run arxiv-harvest --from 2026-13-01
	assert_status 2
	[ "${lines[0]}" = "arxiv-harvest: 2026-13-01: invalid date (expected YYYY-MM-DD)" ]
	run arxiv-harvest --from 2026-12-05 --until 2026-12-01
	assert_status 2
	assert_output "arxiv-harvest: --from 2026-12-05 is after --until 2026-12-01"
	run arxiv-harvest --base-url ftp://x/oai
	assert_status 2
}

@test "arxiv-harvest --version" {
	run arxiv-harvest --version
	assert_success "arxiv-harvest 0.1.0"
}

@test "arxiv-harvest follows resumption tokens and writes the Kaggle schema" {
	start_oai pages
	harvest --from 2026-12-01 --set cs > out.jsonl 2> err
	[ "$(requests | tr '\n' '|')" = "200 verb=ListRecords&metadataPrefix=arXiv&from=2026-12-01&set=cs|200 verb=ListRecords&resumptionToken=tok2|200 verb=ListRecords&resumptionToken=tok3|" ]
	[ "$(jq -r .id out.jsonl | tr '\n' ' ')" = "2612.00001 cs/9901001 2612.00004 2612.00006 " ]
	# the first record in full: entities decoded, white space kept, authors joined
	[ "$(head -1 out.jsonl)" = '{"id":"2612.00001","submitter":null,"authors":"C. Balázs, E. L. Berger, C. -P. Yuan Jr","title":"Graph neural networks for\n  scalable \"semi-supervised\" learning","comments":"12 pages, 3 figures","journal-ref":"J. Mach. Learn. 1 (2026) 1-12","doi":"10.1000/xyz.1","report-no":null,"categories":"cs.LG stat.ML","license":"http://creativecommons.org/licenses/by/4.0/","abstract":"  We propose a scalable approach to semi-supervised learning on\ngraph-structured data with $O(n \\log n)$ cost & a <tiny> memory footprint.\n","update_date":"2026-12-01","authors_parsed":[["Balázs","C.",""],["Berger","E. L.",""],["Yuan","C. -P.","Jr"]],"datestamp":"2026-12-02"}' ]
	# update_date: <updated> when there is one
	[ "$(jq -r 'select(.id == "cs/9901001") | .update_date' out.jsonl)" = 2026-12-03 ]
	# no abstract, no categories: warned with their position, skipped, counted
	run cat err
	assert_line "arxiv-harvest: $OAI?verb=ListRecords&resumptionToken=tok2: page 2 record 1 (2612.00003): no abstract: skipped"
	assert_line "arxiv-harvest: $OAI?verb=ListRecords&resumptionToken=tok3: page 3 record 1 (2612.00005): no categories: skipped"
	assert_line "arxiv-harvest: 4 records in 3 pages, 1 deleted, 2 skipped, 0 malformed"
	assert_line "arxiv-harvest: skipped 2 records"
}

@test "arxiv-harvest output runs through arxiv-map unchanged" {
	start_oai pages
	harvest 2>/dev/null | arxiv-map > mapped.jsonl
	[ "$(jq -rc '[.id, .label, .fields]' mapped.jsonl | tr '\n' ' ')" = '["2612.00001","Computer Science",["Computer Science","Mathematics"]] ["cs/9901001","Computer Science",["Computer Science","Mathematics"]] ["2612.00004","Engineering",["Engineering","Computer Science"]] ["2612.00006","Physics",["Physics"]] ' ]
}

@test "arxiv-harvest --deleted writes a marker for each deleted record" {
	start_oai pages
	harvest --deleted 2>/dev/null > out.jsonl
	grep -qx '{"id":"2612.00002","deleted":true,"datestamp":"2026-12-02"}' out.jsonl
	[ "$(wc -l < out.jsonl)" -eq 5 ]
}

@test "arxiv-harvest: noRecordsMatch is an empty harvest, exit 0" {
	start_oai empty
	run harvest --from 2026-12-06
	assert_success ""
}

@test "arxiv-harvest: cannotDisseminateFormat and another metadata format are errors" {
	start_oai badformat
	run harvest
	assert_failure "arxiv-harvest: $OAI: the server cannot give metadataPrefix=arXiv (cannotDisseminateFormat: Format 'arXiv' is not supported by this repository)"
	scenario "$FIX/otherformat"
	run harvest
	assert_failure "arxiv-harvest: $OAI?verb=ListRecords&metadataPrefix=arXiv: page 1 record 1: unknown metadata format <dc xmlns=\"http://www.openarchives.org/OAI/2.0/oai_dc/\">: arxiv-harvest reads only metadataPrefix=arXiv (http://arxiv.org/OAI/arXiv/)"
}

@test "arxiv-harvest: malformed XML stops with the record's position; -k skips only that record" {
	start_oai malformed
	run harvest --state st --until 2026-12-05
	assert_failure "arxiv-harvest: $OAI?verb=ListRecords&metadataPrefix=arXiv&until=2026-12-05: page 1 record 2, line 12: malformed XML: Opening and ending tag mismatch: title line 12 and titel (-k skips the record)"
	[ ! -e st ]
	harvest -k > out.jsonl 2> err
	[ "$(jq -r .id out.jsonl | tr '\n' ' ')" = "2612.00008 2612.00010 " ]
	run cat err
	assert_output "arxiv-harvest: $OAI?verb=ListRecords&metadataPrefix=arXiv: page 1 record 2 (2612.00009) at line 10, byte 832: malformed XML at line 12: Opening and ending tag mismatch: title line 12 and titel: skipped
arxiv-harvest: 2 records in 1 pages, 0 deleted, 0 skipped, 1 malformed
arxiv-harvest: skipped 1 records"
}

@test "arxiv-harvest -k: bad records first, in the middle, cut off and last are skipped; the others and the resumption token kept" {
	start_oai badrecords
	harvest -k --state st --until 2026-12-06 > out.jsonl 2> err
	[ "$(requests | tr '\n' '|')" = "200 verb=ListRecords&metadataPrefix=arXiv&until=2026-12-06|200 verb=ListRecords&resumptionToken=tok2|" ]
	[ "$(jq -r .id out.jsonl | tr '\n' ' ')" = "2612.00011 2612.00013 2612.00015 2612.00017 " ]
	# a CDATA section's tags are text, not record boundaries
	[ "$(jq -r 'select(.id == "2612.00011") | .abstract' out.jsonl)" = "The text </record><record> and x<y is not markup." ]
	run cat err
	assert_output "arxiv-harvest: $OAI?verb=ListRecords&metadataPrefix=arXiv&until=2026-12-06: page 1 record 2 (2612.00012) at line 16, byte 1027: malformed XML at line 22: Specification mandates value for attribute isn: skipped
arxiv-harvest: $OAI?verb=ListRecords&metadataPrefix=arXiv&until=2026-12-06: page 1 record 4 (2612.00014) at line 34, byte 1845: malformed XML at line 40: Opening and ending tag mismatch: title line 40 and ListRecords: skipped
arxiv-harvest: $OAI?verb=ListRecords&resumptionToken=tok2: page 2 record 1 (2612.00016) at line 6, byte 408: malformed XML at line 6: Entity 'nbsp' not defined: skipped
arxiv-harvest: $OAI?verb=ListRecords&resumptionToken=tok2: page 2 record 3 (2612.00018) at line 8, byte 1164: malformed XML at line 8: Opening and ending tag mismatch: title line 8 and titel: skipped
arxiv-harvest: 4 records in 2 pages, 0 deleted, 0 skipped, 4 malformed
arxiv-harvest: skipped 4 records"
	# each position is the record's: its line and byte offset in the page
	[ "$(sed -n 16p "$FIX/badrecords/page1.xml")" = "<record>" ]
	[ "$(tail -c +1028 "$FIX/badrecords/page1.xml" | head -c 8)" = "<record>" ]
	[ "$(tail -c +1846 "$FIX/badrecords/page1.xml" | head -2 | tail -1)" = "<header>" ]
	[ "$(sed -n 34p "$FIX/badrecords/page1.xml")" = "<record>" ]
	# the harvest went through: the state moves on
	grep -qx 'from 2026-12-07' st
	# without -k: the first bad record stops the harvest (at its line), the state stays
	rm st
	run harvest --state st --until 2026-12-06
	assert_failure "arxiv-harvest: $OAI?verb=ListRecords&metadataPrefix=arXiv&until=2026-12-06: page 1, line 22: malformed XML: Specification mandates value for attribute isn"
	[ ! -e st ]
}

@test "arxiv-harvest -k: a page cut off inside a record is an error, not a last page; the state is kept" {
	start_oai cut
	run harvest -k --state st --until 2026-12-05
	assert_failure "arxiv-harvest: $OAI?verb=ListRecords&metadataPrefix=arXiv&until=2026-12-05: page 1, line 12: malformed XML: the page ends before </OAI-PMH> (cut short): its later records and resumption token are lost, even with -k"
	[ ! -e st ]
	run harvest --state st --until 2026-12-05
	assert_failure
	[ ! -e st ]
}

@test "arxiv-harvest -k: malformed XML outside the records (the resumption token) is an error; the state is kept" {
	start_oai badenvelope
	run harvest -k --state st --until 2026-12-05
	assert_failure "arxiv-harvest: $OAI?verb=ListRecords&metadataPrefix=arXiv&until=2026-12-05: page 1, line 7: malformed XML outside the records: xmlParseEntityRef: no name: the resumption token cannot be trusted, even with -k"
	[ ! -e st ]
}

@test "arxiv-harvest honours 503 + Retry-After, then gets the page" {
	start_oai busy
	harvest --verbose > out.jsonl 2> err
	[ "$(jq -r .id out.jsonl)" = 2612.00006 ]
	[ "$(requests | cut -d' ' -f1 | tr '\n' ' ')" = "503 200 " ]
	grep -qx "arxiv-harvest: $OAI?verb=ListRecords&metadataPrefix=arXiv: HTTP 503: retrying" err
	grep -qx "arxiv-harvest: Retry-After: waiting 1 s" err
	# the second request came at least the Retry-After second later
	awk 'NR == 1 { t = $1 } NR == 2 { exit !($1 - t >= 0.95) }' "$TMP/requests"
}

@test "arxiv-harvest backs off after a 500 and gives up after --retries" {
	mkdir s500 && cp "$FIX/busy/page1.xml" s500/ && touch s500/500-once
	start_oai pages
	scenario "$TMP/s500"
	harvest --verbose > out.jsonl 2> err
	[ "$(requests | cut -d' ' -f1 | tr '\n' ' ')" = "500 200 " ]
	grep -qx "arxiv-harvest: backing off 1 s" err
	[ "$(wc -l < out.jsonl)" -eq 1 ]
	# a server that keeps failing: no output, no state
	mkdir s404
	scenario "$TMP/s404"
	run harvest --retries 2 --state st --until 2026-12-05
	assert_failure "arxiv-harvest: $OAI?verb=ListRecords&metadataPrefix=arXiv&until=2026-12-05: HTTP 404"
	[ ! -e st ]
	kill "$OPID"; wait "$OPID" 2>/dev/null || true; OPID=
	run arxiv-harvest --delay 0 --retries 1 --base-url "$OAI"
	assert_failure
	[ "${lines[-1]}" = "arxiv-harvest: $OAI?verb=ListRecords&metadataPrefix=arXiv: giving up after 2 tries" ]
}

@test "arxiv-harvest waits --delay between requests" {
	start_oai pages
	arxiv-harvest --delay 0.4 --base-url "$OAI" > /dev/null 2>&1
	awk 'NR > 1 && $1 - t < 0.38 { bad = 1 } { t = $1 } END { exit bad || NR != 3 }' "$TMP/requests"
}

@test "arxiv-harvest --state: consecutive windows, no gap, no overlap, atomic update" {
	start_oai pages
	harvest --state st --from 2026-12-01 --until 2026-12-05 --set cs > one.jsonl 2>/dev/null
	[ "$(cat st)" = "$(printf 'arxiv-harvest-state 1\nfrom 2026-12-06\nbase-url %s\nset cs' "$OAI")" ]
	[ "$(requests | head -1)" = "200 verb=ListRecords&metadataPrefix=arXiv&from=2026-12-01&until=2026-12-05&set=cs" ]
	# the same window again: up to date, no request
	: > "$TMP/requests"
	run harvest --state st --until 2026-12-05 --set cs
	assert_success ""
	[ ! -s "$TMP/requests" ]
	# the next window starts the day after the last one
	scenario "$FIX/empty"
	run harvest --state st --until 2026-12-08 --set cs
	assert_success ""
	[ "$(requests)" = "200 verb=ListRecords&metadataPrefix=arXiv&from=2026-12-06&until=2026-12-08&set=cs" ]
	grep -qx 'from 2026-12-09' st
	# without --until the window ends yesterday (UTC)
	: > "$TMP/requests"
	harvest --state st2 --from 2026-12-01 2>/dev/null
	[ "$(requests)" = "200 verb=ListRecords&metadataPrefix=arXiv&from=2026-12-01&until=$(date -u -d yesterday +%F)" ]
	grep -qx "from $(date -u +%F)" st2
	! ls .st.* 2>/dev/null
}

@test "arxiv-harvest --state is kept when the harvest fails or the output cannot be written" {
	start_oai badformat
	printf 'arxiv-harvest-state 1\nfrom 2026-12-01\nbase-url %s\nset -\n' "$OAI" > st
	cp st st.orig
	run harvest --state st --until 2026-12-05
	assert_failure
	cmp st st.orig
	scenario "$FIX/pages"
	run sh -c "arxiv-harvest --delay 0 --base-url '$OAI' --state st --until 2026-12-05 > /dev/full"
	assert_failure
	assert_line "arxiv-harvest: write error: No space left on device"
	cmp st st.orig
	# and updated once everything is written
	harvest --state st --until 2026-12-05 > out.jsonl 2>/dev/null
	grep -qx 'from 2026-12-06' st
	[ "$(wc -l < out.jsonl)" -eq 4 ]
}

@test "arxiv-harvest refuses a corrupt state file and says how to reset it" {
	start_oai pages
	printf 'arxiv-harvest-state 1\nfrom 2026-02-30\n' > st
	run harvest --state st
	assert_failure 'arxiv-harvest: st:2: corrupt state file: bad date "2026-02-30"; delete it to harvest from --from again (or write the lines of arxiv-harvest(1) STATE FILE)'
	printf 'garbage' > st
	run harvest --state st
	assert_failure 'arxiv-harvest: st:1: corrupt state file: line too long or not ended; delete it to harvest from --from again (or write the lines of arxiv-harvest(1) STATE FILE)'
	printf 'arxiv-harvest-state 1\nfrom 2026-12-01\n' > st
	run harvest --state st
	assert_failure 'arxiv-harvest: st: corrupt state file: missing "base-url"; delete it to harvest from --from again (or write the lines of arxiv-harvest(1) STATE FILE)'
	printf 'arxiv-harvest-state 1\nfrom 2026-12-01\nbase-url %s\nset math\n' "$OAI" > st
	run harvest --state st --set cs
	assert_failure "arxiv-harvest: st: written for set math, not cs: use another --state file"
	[ ! -s "$TMP/requests" ]
}

@test "arxiv-harvest > /dev/full fails" {
	start_oai pages
	run sh -c "arxiv-harvest --delay 0 --base-url '$OAI' > /dev/full"
	assert_failure
	assert_line "arxiv-harvest: write error: No space left on device"
}

@test "arxiv-harvest man page EXAMPLES run (against the fake server)" {
	start_oai pages
	mkdir -p var/lib/arxiv
	local cmd n=0
	while IFS= read -r cmd; do
		cmd=${cmd//\/var\/lib\/arxiv/$TMP\/var\/lib\/arxiv}
		cmd=${cmd//arxiv-harvest /arxiv-harvest --delay 0 --base-url $OAI }
		run bash -o pipefail -c "$cmd"
		[ "$status" -eq 0 ] || { echo "failed: $cmd"; echo "$output"; return 1; }
		n=$((n + 1))
	done < <(man_examples man1/arxiv-harvest.1)
	[ "$n" -eq 2 ]
	[ "$(wc -l < new.jsonl)" -eq 4 ]
	[ -s var/lib/arxiv/harvest.state ]
}
