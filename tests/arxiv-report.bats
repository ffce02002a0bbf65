#!/usr/bin/env bats
# arxiv-report.bats - options, the page and its plots, bad input, atomic
# output, /report/ in arxiv-serve, headless Chromium screenshots.
load helper

USAGE="usage: arxiv-report [-o dir | --output=dir] [--gnuplot=path] [--title=text] [--verbose] stats.json [report.json]"
EVAL="$TOP/tests/cases/arxiv-eval/report/output"

rec() {	# rec ID TEXT LABEL CATS-JSON FIELDS-JSON
	printf '{"id":"%s","text":"%s","label":"%s","categories":%s,"fields":%s}\n' "$@"
}

stats() {	# a small arxiv-stats output with every section
	local i
	for i in $(seq 30); do
		rec "15$((10 + i % 9))0.0000$i" "Quark gluon plasma $i\nWe measure quark energy." Physics '["hep-ph","cs.LG"]' '["Physics","Computer Science"]'
		rec "hep-th/95010$i" "Graph theorem $i\nA graph coloring theorem with \$x\$." Mathematics '["math.CO"]' '["Mathematics"]'
		rec "20$((10 + i % 6))1.0000$i" "Neural nets $i\nLearning neural networks, café." 'Computer Science' '["cs.LG"]' '["Computer Science"]'
	done | arxiv-stats -v "$TOP/tests/fixtures/tiny-bert/vocab.txt"
}

need_gnuplot() {
	command -v gnuplot >/dev/null || skip "gnuplot not installed (apt-get install gnuplot-nox)"
}

@test "arxiv-report --help lists every option and exits 0" {
	run arxiv-report --help
	assert_success
	[ "$(synopsis)" = "$USAGE" ]
	for o in --output --gnuplot --title --verbose --help --version; do
		assert_output_contains -- "$o"
	done
}

@test "arxiv-report with a bad option or no operand prints the usage and exits 2" {
	run arxiv-report --bogus
	assert_status 2
	[ "$(synopsis)" = "$USAGE" ]
	run arxiv-report
	assert_status 2
	[ "$(synopsis)" = "$USAGE" ]
	run arxiv-report a b c
	assert_status 2
}

@test "arxiv-report --version" {
	run arxiv-report --version
	assert_success "arxiv-report 0.1.0"
	run sh -c 'arxiv-report --version > /dev/full'
	assert_status 1
}

@test "arxiv-report writes index.html and one SVG per plot, self-contained" {
	need_gnuplot
	stats > stats.json
	run arxiv-report --verbose -o out stats.json "$EVAL"
	assert_success
	assert_line "arxiv-report: wrote out/index.html and 10 plots"
	for f in fields categories crosslist years chars words tokens confusion perclass subsets; do
		[ -s "out/$f.svg" ] || { echo "no out/$f.svg"; return 1; }
		grep -q "src=\"$f.svg\"" out/index.html || { echo "$f.svg not on the page"; return 1; }
	done
	# every SVG is well-formed XML and holds its labels
	python3 - out <<'PY'
import sys, glob, xml.etree.ElementTree as ET
for f in glob.glob(sys.argv[1] + "/*.svg"):
    ET.parse(f)
PY
	grep -q '>Physics<' out/fields.svg
	grep -q '>cs.LG<' out/categories.svg
	grep -q '>Computer Science<' out/confusion.svg
	grep -q '>1995<' out/years.svg
	grep -q '>256<' out/tokens.svg
	# no script, nothing fetched from elsewhere, the web page's dark palette, phone viewport
	! grep -qi '<script' out/index.html
	! grep -Eq '(src|href)="(https?:)?//' out/index.html
	grep -q 'name="viewport" content="width=device-width' out/index.html
	grep -q -- '--bg:#0e1116' out/index.html
	grep -q 'color-scheme" content="dark"' out/index.html
	# the numbers of the page are those of the stats
	grep -q '<th>papers</th><td>90</td>' out/index.html
	grep -q '<th>test papers</th><td>17</td>' out/index.html
	grep -q '<h3>Physics</h3><ol><li><span>quark</span>' out/index.html
	# no temporary file left behind
	[ -z "$(find out -name '.*')" ]
}

@test "arxiv-report says why there is no reliability diagram, and draws one from bins" {
	need_gnuplot
	stats > stats.json
	arxiv-report -o out stats.json "$EVAL"
	grep -q 'No reliability diagram: the evaluation report has no calibration bins' out/index.html
	[ ! -e out/reliability.svg ]
	jq -c '. + {reliability: [{confidence: 0.55, accuracy: 0.5, count: 4}, {confidence: 0.95, accuracy: 0.9, count: 13}]}' \
		"$EVAL" > bins.json
	arxiv-report -o out2 stats.json bins.json
	[ -s out2/reliability.svg ]
	! grep -q 'No reliability diagram' out2/index.html
}

@test "arxiv-report without an evaluation report draws only the corpus" {
	need_gnuplot
	stats > stats.json
	run arxiv-report -o out stats.json
	assert_success ""
	[ ! -e out/confusion.svg ]
	! grep -q 'Model evaluation' out/index.html
}

@test "arxiv-report refuses bad input with a message" {
	stats > stats.json
	echo '{"n": 1}' > notstats.json
	run arxiv-report -o out notstats.json
	assert_failure 'arxiv-report: notstats.json: not arxiv-stats output (no "format":"arxiv-stats")'
	printf '{\n"format": ' > broken.json
	run arxiv-report -o out broken.json
	assert_failure "arxiv-report: broken.json:2: invalid JSON: unexpected token near end of file"
	run arxiv-report -o out stats.json notstats.json
	assert_failure 'arxiv-report: notstats.json: not an arxiv-eval report (no "confusion_matrix")'
	run arxiv-report -o out missing.json
	assert_failure "arxiv-report: missing.json: unable to open missing.json: No such file or directory"
	mkdir real && ln -s real link
	run arxiv-report -o link stats.json
	assert_failure "arxiv-report: link: not a directory (a symbolic link: give its target)"
	[ ! -e out ]
}

@test "arxiv-report without gnuplot fails and leaves no page" {
	stats > stats.json
	run arxiv-report -o out --gnuplot /nonexistent/gnuplot stats.json
	assert_failure
	assert_line "arxiv-report: /nonexistent/gnuplot: cannot run it; install gnuplot-nox or give --gnuplot"
	[ ! -e out/index.html ]
	[ -z "$(find out -name '.*')" ]
}

@test "arxiv-report: a new report replaces the old one atomically" {
	need_gnuplot
	stats > stats.json
	arxiv-report -o out stats.json
	ino=$(stat -c %i out/index.html)
	arxiv-report -o out --title "second" stats.json
	[ "$(stat -c %i out/index.html)" != "$ino" ]
	grep -q '<title>second</title>' out/index.html
}

@test "arxiv-report: headless Chromium screenshots at desktop and phone width" {
	need_gnuplot
	local chrome
	chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome) ||
		skip "chromium not installed (apt-get install chromium)"
	need_shared 0
	need_vocab
	shared_head 3000 | arxiv-map | arxiv-stats -v "$(shared_vocab)" > stats.json
	arxiv-report -o report stats.json "$EVAL"
	local art="$ARXIV_BUILD/test-artifacts" w
	mkdir -p "$art"
	for w in desktop:1280,4000 phone:390,2400; do
		rm -f "$art/report-${w%%:*}.png"
		"$chrome" --headless=new --no-sandbox --disable-gpu --no-first-run --hide-scrollbars \
			--user-data-dir="$TMP/chrome" --window-size="${w#*:}" \
			--screenshot="$art/report-${w%%:*}.png" "file://$TMP/report/index.html" >/dev/null 2>&1
		[ -s "$art/report-${w%%:*}.png" ] || { echo "no screenshot $w"; return 1; }
		# the PNG has the asked width, and is not one flat colour (the page drew)
		python3 - "$art/report-${w%%:*}.png" "${w#*:}" <<'PY'
import struct, sys, zlib
d = open(sys.argv[1], "rb").read()
w, h = struct.unpack(">II", d[16:24])
assert (w, h) == tuple(map(int, sys.argv[2].split(","))), (w, h)
assert len(d) > 20000, len(d)
PY
		echo "# screenshot: $art/report-${w%%:*}.png" >&3
	done
}

@test "arxiv-serve -R serves the report at /report/ and nothing else from there" {
	need_gnuplot
	stats > stats.json
	arxiv-report -o rep stats.json
	echo secret > rep/.hidden.html
	arxiv-serve -l 127.0.0.1:0 -m "$TMP/none" -R "$TMP/rep" 2>log >/dev/null 3>&- &
	SPID=$!
	for i in $(seq 200); do
		port=$(sed -n 's|^arxiv-serve: listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' log)
		[ -n "$port" ] && break
		sleep 0.05
	done
	[ -n "$port" ] || { cat log; kill "$SPID"; return 1; }
	u="http://127.0.0.1:$port"
	run curl -s -o page.html -w '%{http_code} %{content_type}' "$u/report/"
	[ "$output" = "200 text/html; charset=utf-8" ] || { kill "$SPID"; echo "$output"; return 1; }
	cmp page.html rep/index.html
	run curl -s -o f.svg -w '%{http_code} %{content_type}' "$u/report/fields.svg"
	[ "$output" = "200 image/svg+xml" ]
	cmp f.svg rep/fields.svg
	for bad in /report/.hidden.html /report/../stats.json /report/stats.json /report/x/fields.svg; do
		run curl -s -o /dev/null -w '%{http_code}' --path-as-is "$u$bad"
		[ "$output" = 404 ] || { kill "$SPID"; echo "$bad: $output"; return 1; }
	done
	kill "$SPID"
	wait "$SPID" 2>/dev/null || true
	# without -R: 404 that says how to get one
	arxiv-serve -l 127.0.0.1:0 -m "$TMP/none" 2>log2 >/dev/null 3>&- &
	SPID=$!
	for i in $(seq 200); do
		port=$(sed -n 's|^arxiv-serve: listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' log2)
		[ -n "$port" ] && break
		sleep 0.05
	done
	run curl -s "http://127.0.0.1:$port/report/"
	kill "$SPID"
	wait "$SPID" 2>/dev/null || true
	assert_output '{"error":"not found","detail":"no report: start the server with -R DIR (arxiv-report -o DIR)"}'
	# the web page offers the link when the report is there
	grep -q 'href="/report/">data report</a>' "$ARXIV_DATADIR/web/index.html"
}

@test "arxiv-report man page EXAMPLES run" {
	need_gnuplot
	need_shared 0
	need_vocab
	shared_head 2000 | gzip > dump.json.gz
	cp "$(shared_vocab)" vocab.txt
	cp "$EVAL" report.json
	local cmd n=0
	while IFS= read -r cmd; do
		run bash -o pipefail -c "$cmd"
		[ "$status" -eq 0 ] || { echo "failed: $cmd"; echo "$output"; return 1; }
		n=$((n + 1))
	done < <(man_examples man1/arxiv-report.1)
	[ "$n" -eq 3 ]
	[ -s report/index.html ] && [ -s report/confusion.svg ]
}
