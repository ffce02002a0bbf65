#!/usr/bin/env bats
# arxiv-serve.bats - the HTTP server: every endpoint and error status with curl,
# SIGHUP reloads, SIGTERM drains, the man page EXAMPLES, the robustness test
# (tests/serve_robust.py) and the page in headless Chromium (tests/browser_test.py).
# The model is trained in setup_file on the synthetic fixtures of
# tests/cases/arxiv-serve (six fields, made-up abstracts), or taken from
# $SERVE_TEST_MODEL (an artifacts directory) when that is set.
load helper

FIX="$TOP/tests/cases/arxiv-serve"
USAGE="usage: arxiv-serve [-m dir | --model=dir] [-i index | --index=index] [-d dsn | --dsn=dsn] [-e dir | --embedder=dir] [-l host:port | --listen=host:port] [-j threads | --jobs=threads] [-B maxbatch | --max-batch=maxbatch] [-b maxbody | --max-body=maxbody] [-c maxconn | --max-conn=maxconn] [-T timeout | --timeout=timeout] [-w webdir | --web-dir=webdir] [-R reportdir | --report-dir=reportdir] [-q | --quiet] [--min-confidence=p] [--ood-threshold=p]"
ABS="We propose a scalable approach to graph neural networks for learning on large graphs."

# start_server LOG [args...]: arxiv-serve on a free loopback port, in the
# background; sets SPID and URL once it listens.
start_server() {
	local log=$1 port="" i
	shift
	arxiv-serve -l 127.0.0.1:0 "$@" 2>"$log" >/dev/null 3>&- &
	SPID=$!
	for i in $(seq 200); do
		port=$(sed -n 's|^arxiv-serve: listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$log")
		[ -n "$port" ] && break
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.05
	done
	if [ -z "$port" ]; then
		echo "arxiv-serve did not start:"; cat "$log"; return 1
	fi
	URL="http://127.0.0.1:$port"
}

# stop_server: SIGTERM, and the exit status must be 0.
stop_server() {
	local st=0
	kill -TERM "$SPID"
	wait "$SPID" || st=$?
	[ "$st" -eq 0 ] || { echo "arxiv-serve exited $st"; return 1; }
}

setup_file() {
	export MODEL="$BATS_FILE_TMPDIR/model"
	if [ -n "${SERVE_TEST_MODEL:-}" ]; then
		cp -R "$SERVE_TEST_MODEL" "$MODEL"
	elif command -v arxiv-train >/dev/null; then
		(cd "$BATS_FILE_TMPDIR" && arxiv-train -j 1 -o "$MODEL" "$FIX/train.jsonl" "$FIX/val.jsonl" \
			> train.log 2>&1) || { cat "$BATS_FILE_TMPDIR/train.log" >&3; return 1; }
	fi
	# one server for the read-only tests; the others start their own
	start_server "$BATS_FILE_TMPDIR/main.log" -m "$MODEL" -b 64k -B 4 -j 2 || return 1
	export SPID URL
	echo "$SPID" > "$BATS_FILE_TMPDIR/main.pid"
}

teardown_file() {
	local pid
	pid=$(cat "$BATS_FILE_TMPDIR/main.pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null || true
}

# a test that fails half-way must not leave its server behind
teardown() {
	if [ -n "${SPID:-}" ] && [ "$SPID" != "$(cat "$BATS_FILE_TMPDIR/main.pid" 2>/dev/null)" ]; then
		kill -TERM "$SPID" 2>/dev/null || true
	fi
	cd / && rm -rf "$TMP"
}

need_model() {
	[ -d "$MODEL" ] || skip "no model: arxiv-train not built in $ARXIV_BUILD/bin"
}

# req [curl args...]: one request; sets code, body, and $TMP/headers.
req() {
	code=$(curl -sS -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' "$@")
	body=$(cat "$TMP/body")
}

header() {
	sed -n "s/^$1: *//Ip" "$TMP/headers" | tr -d '\r'
}

expect() {
	[ "$code" = "$1" ] || { echo "expected status $1, got $code: $body"; return 1; }
	if [ $# -gt 1 ] && [ "$body" != "$2" ]; then
		echo "expected: $2"; echo "actual:   $body"; return 1
	fi
}

json() {
	python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

@test "arxiv-serve --help, --version, bad option, operands" {
	run arxiv-serve --help
	assert_success
	[ "$(synopsis)" = "$USAGE" ]
	run arxiv-serve -h
	assert_success
	[ "$(synopsis)" = "$USAGE" ]
	run arxiv-serve --version
	assert_success "arxiv-serve 0.1.0"
	run arxiv-serve --bogus
	assert_status 2
	[ "$(synopsis)" = "$USAGE" ]
	run arxiv-serve extra
	assert_status 2
	[ "$(synopsis)" = "$USAGE" ]
}

@test "arxiv-serve: the man page SYNOPSIS matches usage()" {
	syn=$(mandoc -Tascii "$TOP/man/man8/arxiv-serve.8" | col -b |
		sed -n '/^SYNOPSIS/,/^$/p' | sed -e '1d' | tr -s ' \t\n' ' ' | sed -e 's/^ //' -e 's/ $//')
	[ "usage: $syn" = "$USAGE" ] || { echo "man:   usage: $syn"; echo "usage: $USAGE"; return 1; }
	run mandoc -Tlint -W warning "$TOP/man/man8/arxiv-serve.8"
	assert_success ""
}

@test "arxiv-serve: bad option values exit 2 with the reason" {
	run arxiv-serve -j 0
	assert_status 2
	assert_output "arxiv-serve: 0: invalid thread count (expected 1..1024)"
	run arxiv-serve -b 12x
	assert_status 2
	assert_output "arxiv-serve: 12x: invalid body limit (expected 1..1G bytes, k and M suffixes allowed)"
	run arxiv-serve -B 0
	assert_status 2
	assert_output "arxiv-serve: 0: invalid batch size (expected 1..100000)"
	run arxiv-serve -l 127.0.0.1:70000
	assert_status 2
	assert_output "arxiv-serve: 70000: invalid port (expected 0..65535)"
	run arxiv-serve -l '[::1'
	assert_status 2
	assert_output "arxiv-serve: [::1: invalid address (expected host:port or [v6addr]:port)"
}

@test "arxiv-serve: --help and --version to /dev/full exit 1" {
	run sh -c 'arxiv-serve --help > /dev/full'
	assert_status 1
	assert_output_contains "write error"
	run sh -c 'arxiv-serve --version > /dev/full'
	assert_status 1
}

@test "arxiv-serve: an address in use is an error, exit 1" {
	port=${URL##*:}
	run arxiv-serve -m "$MODEL" -l "127.0.0.1:$port"
	assert_status 1
	assert_output "arxiv-serve: 127.0.0.1:$port: Address already in use"
}

@test "GET /healthz, HEAD /healthz" {
	req "$URL/healthz"
	expect 200 '{"status":"ok"}'
	[ "$(header Content-Type)" = "application/json" ]
	code=$(curl -sS -I -o /dev/null -D "$TMP/headers" -w '%{http_code}' "$URL/healthz")
	[ "$code" = 200 ]
	[ "$(header Content-Length)" = "16" ]
}

@test "GET /readyz: model type, artifact version, labels" {
	need_model
	req "$URL/readyz"
	expect 200
	[ "$(echo "$body" | json 'd["ready"]')" = "True" ]
	[ "$(echo "$body" | json 'd["model_type"]')" = "fast" ]
	[ "$(echo "$body" | json 'd["artifact_version"]')" = "2" ]
	[ "$(echo "$body" | json '" ".join(sorted(d["labels"]))')" = \
		"Biology Computer Science Economics Mathematics Physics Statistics" ]
}

@test "GET /api/labels/ and /api/labels: the readyz labels, in id order" {
	need_model
	req "$URL/readyz"
	want="{\"labels\":$(echo "$body" | json 'json.dumps(d["labels"], separators=(",", ":"), ensure_ascii=False)')}"
	req "$URL/api/labels/"
	expect 200 "$want"
	req "$URL/api/labels"
	expect 200 "$want"
}

@test "GET /: the page, with its headers; HEAD /" {
	req "$URL/"
	expect 200
	[ "$(header Content-Type)" = "text/html; charset=utf-8" ]
	[[ "$(header Content-Security-Policy)" == *"default-src 'none'"* ]]
	[[ "$body" == *'<button id="classify"'* ]]
	[[ "$body" == *'fetch("/api/predict/"'* ]]
	cmp "$TMP/body" "$TOP/data/web/index.html"
	code=$(curl -sS -I -o /dev/null -D "$TMP/headers" -w '%{http_code}' "$URL/")
	[ "$code" = 200 ]
	[ "$(header Content-Length)" = "$(wc -c < "$TOP/data/web/index.html")" ]
}

@test "POST /api/predict/: the issue's curl -d example" {
	need_model
	req "$URL/api/predict/" -d '{"abstract":"We propose a scalable approach to graph neural networks...","top_k":3}'
	expect 200
	[ "$(header Content-Type)" = "application/json" ]
	echo "$body" | python3 -c '
import json, sys
raw = sys.stdin.read()
d = json.loads(raw)
assert list(d) == ["predicted_category", "confidence", "fields", "top_k"], list(d)
assert d["fields"][0] == d["predicted_category"], d
assert len(d["top_k"]) == 3
assert d["top_k"][0]["label"] == d["predicted_category"]
assert d["top_k"][0]["score"] == d["confidence"]
s = [t["score"] for t in d["top_k"]]
assert s == sorted(s, reverse=True) and 0 < s[0] <= 1 and sum(s) <= 1.0001, s
assert len({t["label"] for t in d["top_k"]}) == 3
'
}

@test "POST /api/predict/: top_k default 3, 1, the label count; title; no trailing slash" {
	need_model
	n=$(curl -s "$URL/api/labels/" | json 'len(d["labels"])')
	req "$URL/api/predict/" -H 'Content-Type: application/json' -d "{\"abstract\":\"$ABS\"}"
	expect 200
	[ "$(echo "$body" | json 'len(d["top_k"])')" = 3 ]
	one=$body
	req "$URL/api/predict/" -d "{\"abstract\":\"$ABS\",\"top_k\":1}"
	[ "$(echo "$body" | json 'len(d["top_k"])')" = 1 ]
	req "$URL/api/predict/" -d "{\"abstract\":\"$ABS\",\"top_k\":$n}"
	expect 200
	[ "$(echo "$body" | json 'len(d["top_k"])')" = "$n" ]
	req "$URL/api/predict" -d "{\"abstract\":\"$ABS\",\"top_k\":null,\"title\":null,\"x\":[1]}"
	expect 200 "$one"
	req "$URL/api/predict/" -d "{\"abstract\":\"$ABS\",\"title\":\"Protein folding in yeast\"}"
	expect 200
	[ "$(echo "$body" | json 'len(d["top_k"])')" = 3 ]
}

@test "POST /api/predict/: batch form, answers identical to single ones" {
	need_model
	a1=$(curl -s "$URL/api/predict/" -d '{"abstract":"quantum spin lattice gauge photon","top_k":2}')
	a2=$(curl -s "$URL/api/predict/" -d '{"abstract":"market price labor policy","title":"Trade","top_k":2}')
	req "$URL/api/predict/" -d '{"abstracts":["quantum spin lattice gauge photon",{"title":"Trade","abstract":"market price labor policy"}],"top_k":2}'
	expect 200 "{\"predictions\":[$a1,$a2]}"
}

@test "POST /api/predict/: a batch over -B is 413, bad batches are 400" {
	need_model
	req "$URL/api/predict/" -d '{"abstracts":["a","b","c","d","e"]}'
	expect 413 '{"error":"payload too large","detail":"a batch of 5 abstracts is over the limit of 4 (-B)"}'
	req "$URL/api/predict/" -d '{"abstracts":[]}'
	expect 400 '{"error":"invalid request","detail":"\"abstracts\" must be a non-empty array of strings"}'
	req "$URL/api/predict/" -d '{"abstracts":"a"}'
	expect 400 '{"error":"invalid request","detail":"\"abstracts\" must be a non-empty array of strings"}'
	req "$URL/api/predict/" -d '{"abstracts":["a"," "]}'
	expect 400 '{"error":"invalid request","detail":"\"abstracts\"[1] is empty"}'
	req "$URL/api/predict/" -d '{"abstracts":["a",3]}'
	expect 400 '{"error":"invalid request","detail":"\"abstracts\"[1] must be a string"}'
	req "$URL/api/predict/" -d '{"abstracts":[{"title":"t"}]}'
	expect 400 '{"error":"invalid request","detail":"\"abstracts\"[0]: \"abstract\" (or \"text\") is required"}'
	req "$URL/api/predict/" -d '{"abstracts":["a"],"abstract":"b"}'
	expect 400 '{"error":"invalid request","detail":"give either \"abstract\" or \"abstracts\", not both"}'
}

@test "POST /api/predict/: 400 for malformed JSON, wrong types, missing or empty abstract, top_k" {
	need_model
	n=$(curl -s "$URL/api/labels/" | json 'len(d["labels"])')
	while IFS='|' read -r send want; do
		req "$URL/api/predict/" -H 'Content-Type: application/json' --data-binary "$send"
		expect 400 "$want" || { echo "for body: $send"; return 1; }
	done <<EOF
|{"error":"malformed JSON","detail":"the body is empty; send a JSON object such as {\"abstract\":\"...\"}"}
{|{"error":"malformed JSON","detail":"line 1 column 1: string or '}' expected near end of file"}
{"abstract":"x"} trailing|{"error":"malformed JSON","detail":"line 1 column 25: end of file expected near 'trailing'"}
{"abstract":"x","abstract":"y"}|{"error":"malformed JSON","detail":"line 1 column 26: duplicate object key near '\"abstract\"'"}
["x"]|{"error":"invalid request","detail":"the body must be a JSON object such as {\"abstract\":\"...\"}"}
{}|{"error":"invalid request","detail":"\"abstract\" (or \"text\") is required"}
{"title":"only a title"}|{"error":"invalid request","detail":"\"abstract\" (or \"text\") is required"}
{"abstract":42}|{"error":"invalid request","detail":"\"abstract\" must be a string"}
{"abstract":null}|{"error":"invalid request","detail":"\"abstract\" must be a string"}
{"abstract":""}|{"error":"invalid request","detail":"\"abstract\" is empty"}
{"abstract":" \n\t "}|{"error":"invalid request","detail":"\"abstract\" is empty"}
{"abstract":"x","title":["t"]}|{"error":"invalid request","detail":"\"title\" must be a string"}
{"abstract":"x","top_k":0}|{"error":"invalid request","detail":"\"top_k\" must be an integer between 1 and $n"}
{"abstract":"x","top_k":-1}|{"error":"invalid request","detail":"\"top_k\" must be an integer between 1 and $n"}
{"abstract":"x","top_k":$((n + 1))}|{"error":"invalid request","detail":"\"top_k\" must be an integer between 1 and $n"}
{"abstract":"x","top_k":2.0}|{"error":"invalid request","detail":"\"top_k\" must be an integer"}
{"abstract":"x","top_k":true}|{"error":"invalid request","detail":"\"top_k\" must be an integer"}
{"abstract":"x","top_k":"3"}|{"error":"invalid request","detail":"\"top_k\" must be an integer"}
EOF
	printf '{"abstract":"\377"}' > "$TMP/bad-utf8"
	req "$URL/api/predict/" --data-binary @"$TMP/bad-utf8"
	expect 400 '{"error":"malformed JSON","detail":"line 1 column 13: unable to decode byte 0xff near '"'"'\"'"'"'"}'
}

@test "405 with an Allow header; OPTIONS 204" {
	req "$URL/api/predict/"
	expect 405 '{"error":"method not allowed","detail":"GET is not allowed on /api/predict/; allowed: POST, OPTIONS"}'
	[ "$(header Allow)" = "POST, OPTIONS" ]
	req -X PUT "$URL/api/predict/" -d '{}'
	expect 405
	req -X POST "$URL/healthz" -d '{}'
	expect 405 '{"error":"method not allowed","detail":"POST is not allowed on /healthz; allowed: GET, HEAD, OPTIONS"}'
	[ "$(header Allow)" = "GET, HEAD, OPTIONS" ]
	req -X DELETE "$URL/metrics"
	expect 405
	code=$(curl -sS -I -o /dev/null -w '%{http_code}' "$URL/api/predict/")
	[ "$code" = 405 ]
	req -X OPTIONS "$URL/api/predict/"
	expect 204 ""
	[ "$(header Allow)" = "POST, OPTIONS" ]
}

@test "404 for an unknown path, with and without a query" {
	req "$URL/api/nope"
	expect 404 '{"error":"not found","detail":"no such path: /api/nope; try POST /api/predict/, /api/similar/, GET /api/labels/, /healthz, /readyz, /metrics, / or /report/"}'
	req "$URL/healthz/x?y=1"
	expect 404
	req "$URL/healthz?probe=1"
	expect 200 '{"status":"ok"}'
}

@test "413 for a body over -b: by Content-Length, and streamed (chunked)" {
	python3 -c 'import json; print(json.dumps({"abstract": "x" * 70000}))' > "$TMP/big.json"
	req "$URL/api/predict/" --data-binary @"$TMP/big.json"
	expect 413 '{"error":"payload too large","detail":"the body is larger than the limit of 65536 bytes (-b)"}'
	req "$URL/api/predict/" -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/big.json"
	expect 413 '{"error":"payload too large","detail":"the body is larger than the limit of 65536 bytes (-b)"}'
}

@test "ambiguous framing (Content-Length with Transfer-Encoding, two Content-Lengths, odd Transfer-Encoding): 400 and close" {
	run python3 - "${URL#http://127.0.0.1:}" <<'PY'
import socket, sys
port = int(sys.argv[1])
body = b'{"abstract":"quantum spin lattice"}'
def send(raw):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(5)
    s.sendall(raw)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return out, True      # closed by the server
            out += d
    except socket.timeout:
        return out, False
    finally:
        s.close()
post = b"POST /api/predict/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
cases = {
    "cl+te": post + b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"
        % (len(body), len(body), body),
    "te+cl": post + b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"
        % (len(body), body),
    "two cl": post + b"Content-Length: %d\r\nContent-Length: 5\r\n\r\n%s" % (len(body), body),
    "te gzip": post + b"Transfer-Encoding: gzip\r\n\r\n" + body,
    "te twice": post + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "get cl+te": b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
}
bad = 0
for name, raw in cases.items():
    out, closed = send(raw)
    head, _, rest = out.partition(b"\r\n\r\n")
    ok = (out.startswith(b"HTTP/1.1 400 ") and closed and out.count(b"HTTP/1.1") == 1
          and b"\r\nConnection: close" in head and rest.startswith(b'{"error":"bad request"'))
    print(("ok " if ok else "FAIL ") + name + ": " + repr(out[:300]) + (" closed" if closed else " open"))
    bad += not ok
# two equal Content-Lengths are one value (RFC 9112 6.3): answered, kept open
out, closed = send(post + b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n%s" % (len(body), len(body), body))
ok = out.startswith(b"HTTP/1.1 200 ") and not closed
print(("ok " if ok else "FAIL ") + "equal content-lengths: " + repr(out[:120]))
bad += not ok
sys.exit(1 if bad else 0)
PY
	echo "$output"
	assert_success
	run curl -sS "$URL/healthz"	# and the server goes on serving
	assert_success '{"status":"ok"}'
}

# raw_http: the python helpers of the strictness tests below (a socket client
# that reads until the server closes or 3 s pass)
raw_http_py() {
	cat <<'PY'
import json, re, socket, sys
port = int(sys.argv[1])
def send(raw, wait=3):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(wait)
    try:
        s.sendall(raw)
    except OSError:
        pass
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return out, True      # closed by the server
            out += d
    except socket.timeout:
        return out, False
    except ConnectionResetError:
        return out, True
    finally:
        s.close()
bad = 0
def refused(name, raw, status, error):
    """exactly one response: status, a JSON error body, Connection: close, then closed"""
    global bad
    out, closed = send(raw)
    head, _, rest = out.partition(b"\r\n\r\n")
    try:
        body = json.loads(rest)
    except ValueError:
        body = None
    ok = (out.startswith(b"HTTP/1.1 %d " % status) and len(re.findall(rb"HTTP/1\.[01] [0-9]{3} ", out)) == 1 and closed
          and b"\r\nConnection: close\r\n" in head + b"\r\n"
          and b"\r\nContent-Type: application/json\r\n" in head + b"\r\n"
          and isinstance(body, dict) and body.get("error") == error
          and isinstance(body.get("detail"), str) and len(rest) < 300)
    print(("ok " if ok else "FAIL ") + name + ": " + repr(out[:400]) + (" closed" if closed else " open"))
    bad += not ok
PY
}

@test "HTTP strictness: negative or overflowing Content-Length: one 400 with a JSON error, then close" {
	run python3 - "${URL#http://127.0.0.1:}" <<PY
$(raw_http_py)
post = b"POST /api/predict/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
refused("negative", post + b"Content-Length: -5\r\n\r\n{}", 400, "bad request")
refused("overflowing", post + b"Content-Length: 99999999999999999999999\r\n\r\n{}", 400, "bad request")
refused("not digits", post + b"Content-Length: 12abc\r\n\r\n{}", 400, "bad request")
refused("plus sign", post + b"Content-Length: +2\r\n\r\n{}", 400, "bad request")
refused("list", post + b"Content-Length: 2, 2\r\n\r\n{}", 400, "bad request")
sys.exit(1 if bad else 0)
PY
	echo "$output"
	assert_success
	run curl -sS "$URL/healthz"
	assert_success '{"status":"ok"}'
}

@test "HTTP strictness: bytes that are not HTTP (garbage, a TLS ClientHello, prose) get a 400 JSON error, not silence" {
	run python3 - "${URL#http://127.0.0.1:}" <<PY
$(raw_http_py)
refused("garbage", b"GARBAGE\r\n", 400, "bad request")
# the start of a TLS 1.2 ClientHello: answered at once, no line end needed
hello = bytes.fromhex("16030100a5010000a10303") + bytes(range(32)) + b"\x00\x20\xc0\x2b\xc0\x2f"
refused("tls clienthello", hello, 400, "bad request")
refused("prose", b"hello there\r\n\r\n", 400, "bad request")
refused("binary", b"\x00\x01\x02\xff\r\n\r\n", 400, "bad request")
refused("absolute URI", b"GET http://x/healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad request")
refused("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "HTTP version not supported")
out, closed = send(hello)
print("tls detail: " + repr(out.partition(b"\r\n\r\n")[2]))
bad += b"TLS" not in out
sys.exit(1 if bad else 0)
PY
	echo "$output"
	assert_success
}

@test "HTTP strictness: obs-fold, a header line without a colon, no Host, a long request line or header section" {
	run python3 - "${URL#http://127.0.0.1:}" <<PY
$(raw_http_py)
get = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
refused("obs-fold", get + b"X-A: 1\r\n  continued\r\n\r\n", 400, "bad request")
refused("no colon", get + b"X-A 1\r\n\r\n", 400, "bad request")
refused("space before colon", get + b"X-A : 1\r\n\r\n", 400, "bad request")
refused("NUL in a value", get + b"X-A: a\x00b\r\n\r\n", 400, "bad request")
refused("bare CR", get + b"X-A: a\rb\r\n\r\n", 400, "bad request")
refused("no Host in 1.1", b"GET /healthz HTTP/1.1\r\n\r\n", 400, "bad request")
refused("two Hosts", get + b"Host: y\r\n\r\n", 400, "bad request")
refused("TE in 1.0", b"POST /api/predict/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "bad request")
refused("request line too long", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "URI too long")
refused("header section too large", get + b"X-Big: " + b"b" * 40000 + b"\r\n\r\n", 431,
        "request header fields too large")
refused("bad chunk size", b"POST /api/predict/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        400, "bad request")
refused("chunk without CRLF", b"POST /api/predict/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}xx0\r\n\r\n",
        400, "bad request")
# HTTP/1.0 needs no Host
out, closed = send(b"GET /healthz HTTP/1.0\r\n\r\n")
ok = out.startswith(b"HTTP/1.1 200 ") and closed
print(("ok " if ok else "FAIL ") + "HTTP/1.0 without Host: " + repr(out[:80]))
bad += not ok
sys.exit(1 if bad else 0)
PY
	echo "$output"
	assert_success
	run curl -sS "$URL/healthz"
	assert_success '{"status":"ok"}'
}

@test "HTTP: pipelined requests on one connection are answered in order; a chunked upload is decoded" {
	need_model
	want=$(curl -sS "$URL/api/predict/" -d '{"abstract":"quantum spin lattice gauge photon"}')
	run python3 - "${URL#http://127.0.0.1:}" "$want" <<PY
$(raw_http_py)
want = sys.argv[2].encode() + b"\n"
body = b'{"abstract":"quantum spin lattice gauge photon"}'
post = b"POST /api/predict/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
# three requests in one write: GET, POST by Content-Length, GET; one connection
raw = (b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" +
       post + b"Content-Length: %d\r\n\r\n" % len(body) + body +
       b"GET /api/nope HTTP/1.1\r\nHost: x\r\n\r\n")
out, closed = send(raw, 2)
parts = out.split(b"HTTP/1.1 ")[1:]
ok = (len(parts) == 3 and parts[0].startswith(b"200 ") and parts[0].endswith(b'{"status":"ok"}\n')
      and parts[1].startswith(b"200 ") and parts[1].endswith(b"\r\n\r\n" + want)
      and parts[2].startswith(b"404 ") and not closed)
print(("ok " if ok else "FAIL ") + "pipelined: " + repr(out[:600]))
bad += not ok
# chunked: the body in three chunks (one with an extension) and a trailer
chunks = [body[:10], body[10:30], body[30:]]
raw = post + b"Transfer-Encoding: chunked\r\n\r\n" + b"".join(
    b"%x%s\r\n%s\r\n" % (len(c), b";ext=1" if i == 1 else b"", c) for i, c in enumerate(chunks)) + \
    b"0\r\nX-Trailer: t\r\n\r\n" + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
out, closed = send(raw)
parts = out.split(b"HTTP/1.1 ")[1:]
ok = (len(parts) == 2 and parts[0].startswith(b"200 ") and parts[0].endswith(b"\r\n\r\n" + want)
      and parts[1].startswith(b"200 ") and b"Connection: close" in parts[1] and closed)
print(("ok " if ok else "FAIL ") + "chunked: " + repr(out[:600]))
bad += not ok
sys.exit(1 if bad else 0)
PY
	echo "$output"
	assert_success
}

@test "-c MAXCONN: connections over the limit are closed at once; -T closes idle ones; the others are served" {
	start_server "$TMP/log" -m "$TMP/none" -c 2 -T 1
	run python3 - "${URL##*:}" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
def conn():
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(3)
    return s
a, b = conn(), conn()
a.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
ok1 = a.recv(4096).startswith(b"HTTP/1.1 200 ")
c = conn()               # the third: over the limit
t = time.time()
try:
    closed = c.recv(1) == b""
except ConnectionResetError:
    closed = True
fast = time.time() - t < 0.9
a.close(); b.close(); c.close()
time.sleep(0.3)
d = conn()               # room again
d.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
ok2 = d.recv(4096).startswith(b"HTTP/1.1 200 ")
t = time.time()          # idle: closed by -T 1
idle = d.recv(1) == b"" and 0.5 < time.time() - t < 2.9
print("served %s, third closed %s at once %s, served after %s, idle closed %s" % (ok1, closed, fast, ok2, idle))
sys.exit(0 if ok1 and closed and fast and ok2 and idle else 1)
PY
	echo "$output"
	assert_success
	stop_server
}

@test "-T: a request head dripped a byte at a time is cut off with 408 after the timeout (slowloris)" {
	start_server "$TMP/log" -m "$TMP/none" -T 1
	run python3 - "${URL##*:}" <<'PY'
import json, socket, sys, time
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(0.1)
head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Drip: " + b"a" * 100
t0, out, closed = time.time(), b"", False
for ch in head:                  # one byte every 0.3 s: never idle for 1 s
    try:
        s.sendall(bytes([ch]))
    except OSError:
        closed = True
        break
    try:
        d = s.recv(4096)
        out += d
        if not d:
            closed = True
            break
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
        break
    if time.time() - t0 > 6:
        break
    time.sleep(0.2)
dt = time.time() - t0
body = out.partition(b"\r\n\r\n")[2]
print("after %.1f s: %r %s" % (dt, out[:300], "closed" if closed else "open"))
ok = (out.startswith(b"HTTP/1.1 408 ") and closed and 1.0 < dt < 3.5
      and json.loads(body)["error"] == "request timeout")
sys.exit(0 if ok else 1)
PY
	echo "$output"
	assert_success
	# and a head that arrives in time is answered as ever
	run curl -sS "$URL/healthz"
	assert_success '{"status":"ok"}'
	stop_server
}

@test "415 for an explicit non-JSON Content-Type; JSON types and curl's default accepted" {
	need_model
	req "$URL/api/predict/" -H 'Content-Type: text/plain' -d "{\"abstract\":\"$ABS\"}"
	expect 415 '{"error":"unsupported media type","detail":"Content-Type text/plain is not accepted; send a JSON object as application/json"}'
	req "$URL/api/predict/" -F "abstract=$ABS"
	expect 415 '{"error":"unsupported media type","detail":"Content-Type multipart/form-data is not accepted; send a JSON object as application/json"}'
	for ct in 'application/json' 'Application/JSON; charset=utf-8' 'application/vnd.api+json' \
		'application/x-www-form-urlencoded' ''; do
		req "$URL/api/predict/" -H "Content-Type: $ct" -d "{\"abstract\":\"$ABS\"}"
		expect 200 || { echo "for Content-Type: $ct"; return 1; }
	done
}

@test "GET /metrics: requests by path and status, latency histogram, predictions by label, model" {
	need_model
	curl -s "$URL/api/predict/" -d '{"abstract":"quantum spin lattice gauge photon"}' > /dev/null
	curl -s "$URL/nope" > /dev/null
	req "$URL/metrics"
	expect 200
	[ "$(header Content-Type)" = "text/plain; version=0.0.4; charset=utf-8" ]
	for want in '# TYPE arxiv_http_requests_total counter' \
		'arxiv_http_requests_total{path="other",status="404"} ' \
		'arxiv_http_requests_total{path="/api/predict/",status="200"} ' \
		'# TYPE arxiv_http_request_duration_seconds histogram' \
		'arxiv_http_request_duration_seconds_bucket{path="/api/predict/",le="+Inf"} ' \
		'arxiv_http_request_duration_seconds_count{path="/api/predict/"} ' \
		'# TYPE arxiv_predictions_total counter' 'arxiv_predictions_total{label="Physics"} ' \
		'arxiv_model_loaded 1' 'arxiv_model_load_seconds ' \
		'arxiv_model_info{model_type="fast",artifact_version="2",labels="6"} 1' \
		'arxiv_model_loads_total{result="ok"} 1'; do
		[[ "$body" == *"$want"* ]] || { echo "missing: $want"; echo "$body"; return 1; }
	done
	# every sample line is "name{labels} number" and the buckets are cumulative
	echo "$body" | python3 -c '
import re, sys
last = {}
for line in sys.stdin:
    line = line.rstrip("\n")
    if line.startswith("#"):
        continue
    m = re.fullmatch(r"([a-z_]+)(\{[^}]*\})? (\S+)", line)
    assert m, line
    float(m.group(3))
    if m.group(1).endswith("_bucket"):
        key = re.sub(r",le=\"[^\"]*\"", "", m.group(2))
        assert float(m.group(3)) >= last.get(key, 0), line
        last[key] = float(m.group(3))
'
}

@test "access log: one line per request, method path status latency" {
	curl -s "$URL/healthz?x=1" > /dev/null
	curl -s "$URL/no%20such" > /dev/null
	sleep 0.2
	grep -Eq '^GET /healthz 200 [0-9]+\.[0-9]{3}ms$' "$BATS_FILE_TMPDIR/main.log"
	grep -Eq '^GET /no\\x20such 404 [0-9]+\.[0-9]{3}ms$' "$BATS_FILE_TMPDIR/main.log"
}

@test "arxiv-predict and the server give byte-identical answers" {
	need_model
	command -v arxiv-predict >/dev/null || skip "arxiv-predict not built in $ARXIV_BUILD/bin"
	# the fixture's texts as title + abstract records, and one abstract alone
	python3 - "$FIX/val.jsonl" > "$TMP/in.jsonl" <<'EOF'
import json, sys
for i, line in enumerate(open(sys.argv[1], encoding="utf-8")):
    if i == 6:
        break
    title, _, abstract = json.loads(line)["text"].partition("\n")
    rec = {"abstract": abstract} if i == 0 else {"title": title, "abstract": abstract}
    print(json.dumps(rec, ensure_ascii=False))
EOF
	arxiv-predict -m "$MODEL" -K 3 "$TMP/in.jsonl" > "$TMP/predict.out"
	[ "$(wc -l < "$TMP/predict.out")" -eq 6 ]
	python3 - "$URL" "$TMP/in.jsonl" "$TMP/predict.out" <<'EOF'
import json, sys, urllib.request
url, inp, out = sys.argv[1:]
want = open(out, "rb").read().splitlines()
for i, line in enumerate(open(inp, encoding="utf-8")):
    rec = json.loads(line)
    rec["top_k"] = 3
    got = urllib.request.urlopen(urllib.request.Request(url + "/api/predict/",
                                                        json.dumps(rec).encode())).read()
    assert got == want[i] + b"\n", (got, want[i])
EOF
}

@test "one rule for a record's text: arxiv-eval, arxiv-predict and the server answer the same record alike" {
	need_model
	command -v arxiv-predict >/dev/null && command -v arxiv-eval >/dev/null || skip "arxiv-predict/arxiv-eval not built"
	# records of every shape, among them ones whose "text" and "abstract" speak of
	# different fields: the rule (arxiv_record_text) takes "text"
	python3 - "$FIX/val.jsonl" > recs.jsonl <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
by = {}
for r in recs:
    by.setdefault(r["label"], []).append(r["text"])
labels = sorted(by)
out = []
for i, l in enumerate(labels):
    other = labels[(i + 1) % len(labels)]
    t, _, a = by[other][0].partition("\n")
    out.append({"text": by[l][0], "title": t, "abstract": a})    # text wins
    t, _, a = by[l][1].partition("\n")
    out.append({"title": t, "abstract": a})                      # joined
    out.append({"abstract": a, "title": None})                   # abstract alone
for r in out:
    print(json.dumps(r, ensure_ascii=False))
EOF
	n=$(wc -l < recs.jsonl)
	[ "$n" -ge 12 ]
	arxiv-predict -m "$MODEL" --input jsonl recs.jsonl > predict.out
	[ "$(grep -c '^{"predicted_category"' predict.out)" -eq "$n" ]
	# predict follows "text" where a record has both
	python3 -c 'import json,sys
for l in open("recs.jsonl"):
    r = json.loads(l)
    print(json.dumps({"text": r["text"]} if "text" in r else r))' > textonly.jsonl
	arxiv-predict -m "$MODEL" textonly.jsonl | cmp - predict.out
	# the server: byte-identical answers
	python3 - "$URL" recs.jsonl predict.out <<'EOF'
import json, sys, urllib.request
url, inp, out = sys.argv[1:]
want = open(out, "rb").read().splitlines()
for i, line in enumerate(open(inp, encoding="utf-8")):
    rec = json.loads(line)
    rec["top_k"] = 3
    got = urllib.request.urlopen(urllib.request.Request(url + "/api/predict/",
                                                        json.dumps(rec).encode())).read()
    assert got == want[i] + b"\n", (i, got, want[i])
EOF
	# eval: each record labelled with predict's answer is a hit, with another label a miss
	python3 - recs.jsonl predict.out <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
preds = [json.loads(l)["predicted_category"] for l in open(sys.argv[2])]
labels = sorted(set(preds) | {"Biology", "Physics"})
with open("hit.jsonl", "w") as h, open("miss.jsonl", "w") as m:
    for r, p in zip(recs, preds):
        h.write(json.dumps(dict(r, label=p)) + "\n")
        m.write(json.dumps(dict(r, label=next(l for l in labels if l != p))) + "\n")
EOF
	[ "$(arxiv-eval -m "$MODEL" hit.jsonl | json '[d["n"], d["accuracy"]]')" = "[$n, 1.0]" ]
	[ "$(arxiv-eval -m "$MODEL" miss.jsonl | json '[d["n"], d["accuracy"]]')" = "[$n, 0.0]" ]
}

@test "no usable artifacts: starts anyway, 503 with the reason; SIGHUP loads them" {
	need_model
	start_server "$TMP/log" -m "$TMP/art"
	grep -qx "arxiv-serve: no usable artifacts in $TMP/art: .*; train a model and send SIGHUP" "$TMP/log"
	req "$URL/healthz"
	expect 200 '{"status":"ok"}'
	req "$URL/api/predict/" -d "{\"abstract\":\"$ABS\"}"
	expect 503
	[ "$(echo "$body" | json 'd["error"]')" = "model not loaded" ]
	[[ "$(echo "$body" | json 'd["detail"]')" == "no usable artifacts in $TMP/art: "*"; train a model and send SIGHUP" ]]
	req "$URL/readyz"
	expect 503
	[ "$(echo "$body" | json 'd["ready"]')" = "False" ]
	req "$URL/api/labels/"
	expect 503
	req "$URL/metrics"
	[[ "$body" == *"arxiv_model_loaded 0"* ]]
	cp -R "$MODEL" "$TMP/art"
	kill -HUP "$SPID"
	for i in $(seq 100); do
		grep -q '^arxiv-serve: loaded ' "$TMP/log" && break
		sleep 0.05
	done
	req "$URL/api/predict/" -d "{\"abstract\":\"$ABS\"}"
	expect 200
	req "$URL/readyz"
	expect 200
	stop_server
}

@test "GET /readyz runs a real prediction: a model that cannot predict is 503 with the reason" {
	need_model
	# artifacts that load but whose preprocessing cannot run (no stop-word list)
	ARXIV_DATADIR="$TMP/nowhere" start_server "$TMP/log" -m "$MODEL"
	req "$URL/readyz"
	expect 503
	[ "$(echo "$body" | json 'd["ready"]')" = "False" ]
	[[ "$(echo "$body" | json 'd["detail"]')" == *"the model cannot predict: cannot open stop-word list"* ]] || { echo "$body"; return 1; }
	req "$URL/api/predict/" -d "{\"abstract\":\"$ABS\"}"
	expect 503
	stop_server
}

@test "SIGHUP: a failed reload keeps the old model and logs why; a good one swaps" {
	need_model
	cp -R "$MODEL" "$TMP/art"
	start_server "$TMP/log" -m "$TMP/art"
	before=$(curl -s "$URL/api/predict/" -d "{\"abstract\":\"$ABS\"}")
	[[ "$before" == '{"predicted_category":'* ]]
	mv "$TMP/art" "$TMP/art.away"
	mkdir "$TMP/art"
	kill -HUP "$SPID"
	for i in $(seq 100); do
		grep -q 'reload failed' "$TMP/log" && break
		sleep 0.05
	done
	grep -q "^arxiv-serve: reload failed, keeping the current model: " "$TMP/log"
	req "$URL/api/predict/" -d "{\"abstract\":\"$ABS\"}"
	expect 200 "$before"
	req "$URL/metrics"
	[[ "$body" == *'arxiv_model_loads_total{result="error"} 1'* ]]
	rm -rf "$TMP/art"
	mv "$TMP/art.away" "$TMP/art"
	kill -HUP "$SPID"
	for i in $(seq 100); do
		grep -q '^arxiv-serve: reloaded ' "$TMP/log" && break
		sleep 0.05
	done
	grep -q '^arxiv-serve: reloaded fast model' "$TMP/log"
	req "$URL/api/predict/" -d "{\"abstract\":\"$ABS\"}"
	expect 200 "$before"
	stop_server
}

@test "SIGHUP under load: no request fails while models are swapped" {
	need_model
	start_server "$TMP/log" -q -m "$MODEL"
	# 4 clients predict until $TMP/stop appears (at most 60 s)
	python3 - "$URL" "$TMP/stop" > "$TMP/load.out" 2>&1 <<'EOF' &
import json, os, sys, threading, time, urllib.request
url, stop = sys.argv[1:]
bad, n = [], [0]
def work():
    end = time.time() + 60
    while not os.path.exists(stop) and time.time() < end:
        r = urllib.request.urlopen(urllib.request.Request(url + "/api/predict/",
            json.dumps({"abstract": "spin lattice photon"}).encode()))
        n[0] += 1
        if r.status != 200:
            bad.append(r.status)
ts = [threading.Thread(target=work) for _ in range(4)]
[t.start() for t in ts]
[t.join() for t in ts]
print("bad", len(bad), "of", "many" if n[0] >= 20 else n[0])
EOF
	load=$!
	for i in 1 2 3; do
		kill -HUP "$SPID"
		for j in $(seq 400); do
			[ "$(grep -c '^arxiv-serve: reloaded ' "$TMP/log")" -ge "$i" ] && break
			sleep 0.05
		done
	done
	touch "$TMP/stop"
	wait "$load"
	[ "$(cat "$TMP/load.out")" = "bad 0 of many" ] || { cat "$TMP/load.out"; return 1; }
	[ "$(grep -c '^arxiv-serve: reloaded ' "$TMP/log")" -eq 3 ]
	stop_server
}

@test "SIGTERM and SIGINT exit 0; a request in flight is finished first" {
	need_model
	start_server "$TMP/log" -m "$MODEL"
	# a client sends half its request, the server gets SIGTERM, then the rest
	python3 - "${URL##*:}" "$TMP" > "$TMP/slow.out" 2>&1 <<'EOF' &
import json, os, socket, sys, time
port, tmp = int(sys.argv[1]), sys.argv[2]
body = json.dumps({"abstract": "spin photon " * 100}).encode()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"POST /api/predict/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Content-Length: %d\r\n\r\n" % len(body) + body[:100])
open(tmp + "/sent", "w").close()
for _ in range(200):
    if os.path.exists(tmp + "/go"):
        break
    time.sleep(0.05)
s.sendall(body[100:])
print(s.recv(100).split(b"\r\n")[0].decode())
EOF
	cpid=$!
	for i in $(seq 200); do [ -e "$TMP/sent" ] && break; sleep 0.05; done
	sleep 0.2
	kill -TERM "$SPID"
	sleep 0.3
	touch "$TMP/go"
	wait "$cpid"
	[ "$(cat "$TMP/slow.out")" = "HTTP/1.1 200 OK" ] || { cat "$TMP/slow.out" "$TMP/log"; return 1; }
	st=0
	wait "$SPID" || st=$?
	[ "$st" -eq 0 ]
	grep -q '^arxiv-serve: Terminated: draining 1 requests in flight$' "$TMP/log"
	grep -q '^arxiv-serve: stopped$' "$TMP/log"
	start_server "$TMP/log2" -m "$MODEL"
	kill -INT "$SPID"
	st=0
	wait "$SPID" || st=$?
	[ "$st" -eq 0 ]
	grep -q '^arxiv-serve: stopped$' "$TMP/log2"
}

@test "-w WEBDIR: the page from there; a missing page is a 404 with the path" {
	mkdir "$TMP/web"
	echo '<!doctype html><title>mine</title>' > "$TMP/web/index.html"
	start_server "$TMP/log" -m "$TMP/none" -w "$TMP/web"
	req "$URL/"
	expect 200 '<!doctype html><title>mine</title>'
	# SIGHUP re-reads the page; a page gone missing keeps the current one
	echo '<!doctype html><title>new</title>' > "$TMP/web/index.html"
	kill -HUP "$SPID"
	for i in $(seq 100); do
		[ "$(curl -s "$URL/")" = '<!doctype html><title>new</title>' ] && break
		sleep 0.05
	done
	req "$URL/"
	expect 200 '<!doctype html><title>new</title>'
	rm "$TMP/web/index.html"
	kill -HUP "$SPID"
	for i in $(seq 100); do
		grep -q 'keeping the current page' "$TMP/log" && break
		sleep 0.05
	done
	grep -qx "arxiv-serve: web page not available: $TMP/web/index.html: No such file or directory; keeping the current page" "$TMP/log"
	req "$URL/"
	expect 200 '<!doctype html><title>new</title>'
	stop_server
	start_server "$TMP/log" -m "$TMP/none" -w "$TMP/nowhere"
	req "$URL/"
	expect 404 "{\"error\":\"not found\",\"detail\":\"web page not available: $TMP/nowhere/index.html: No such file or directory\"}"
	stop_server
}

@test "arxiv-serve: the man page EXAMPLES run" {
	need_model
	ln -s "$MODEL" artifacts
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	{
		echo 'set -e'
		echo 'trap '"'"'kill $(jobs -p) 2>/dev/null || true'"'"' EXIT'
		man_examples man8/arxiv-serve.8 | sed "s/8000/$port/g"
	} > examples.sh
	grep -q 'arxiv-serve -m artifacts' examples.sh
	run timeout 60 bash examples.sh
	assert_success
	[[ "$output" == *'{"predicted_category":'* ]]
	[[ "$output" == *'{"predictions":[{"predicted_category":'*'},{"predicted_category":'* ]]
	[[ "$output" == *'{"ready":true,'* ]]
}

@test "robustness: malformed, oversized, slowloris and concurrent clients (tests/serve_robust.py)" {
	need_model
	start_server "$TMP/log" -q -m "$MODEL" -T 2 -b 256k -j 2
	run timeout 120 python3 "$TOP/tests/serve_robust.py" --url "$URL/" --timeout 2 --maxbody 262144
	echo "$output"
	assert_success
	kill -0 "$SPID"
	req "$URL/healthz"
	expect 200 '{"status":"ok"}'
	stop_server
}

@test "the page in headless Chromium: Ctrl+Enter, result, 5 bars, fields, explanation, abstaining, screenshots (tests/browser_test.py)" {
	need_model
	py=/usr/bin/python3
	[ -x "$py" ] || py=python3
	"$py" -c 'import websocket' 2>/dev/null || skip "python3-websocket missing (apt-get install python3-websocket)"
	start_server "$TMP/log" -m "$MODEL" -w "$TOP/data/web"
	shots="$ARXIV_BUILD/test-artifacts"
	run timeout 120 "$py" "$TOP/tests/browser_test.py" --url "$URL/" --out "$shots"
	[ "$status" -ne 77 ] || skip "chromium not installed"
	echo "$output"
	assert_success
	stop_server
	for f in "$shots"/serve-page-desktop.png "$shots"/serve-page-phone.png; do
		[ -s "$f" ] && echo "# screenshot: $f" >&3
	done
	start_server "$TMP/log" -m "$TMP/none" -w "$TOP/data/web"
	run timeout 120 "$py" "$TOP/tests/browser_test.py" --url "$URL/" --out "$shots" --expect-error 503
	echo "$output"
	assert_success
	stop_server
	echo "# screenshot: $shots/serve-page-error.png" >&3
	# text that is no abstract: the page says the model abstained, and why
	domain_model
	start_server "$TMP/log" -m "$DMODEL" -w "$TOP/data/web"
	run timeout 120 "$py" "$TOP/tests/browser_test.py" --url "$URL/" --out "$shots" --expect-abstain
	echo "$output"
	assert_success
	stop_server
	echo "# screenshot: $shots/serve-page-abstain.png" >&3
}

@test "the systemd unit: ExecReload sends SIGHUP, hardened, systemd-analyze verify clean" {
	unit="$TOP/data/systemd/arxiv-serve.service"
	grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$unit"
	grep -qx 'ExecStart=/usr/local/bin/arxiv-serve -m /var/lib/arxiv/artifacts -l 127.0.0.1:8000' "$unit"
	grep -qx 'NoNewPrivileges=yes' "$unit"
	grep -qx 'ProtectSystem=strict' "$unit"
	command -v systemd-analyze >/dev/null || skip "systemd-analyze not installed"
	sed -e "s|/usr/local/bin/arxiv-serve|$ARXIV_BUILD/bin/arxiv-serve|" -e '/^Documentation=/d' \
		"$unit" > arxiv-serve.service
	run systemd-analyze verify "$TMP/arxiv-serve.service"
	assert_success ""
}

@test "-l [::1]:0 listens on IPv6 loopback" {
	arxiv-serve -m "$TMP/none" -l '[::1]:0' 2>"$TMP/log" >/dev/null 3>&- &
	pid=$! SPID=$!
	for i in $(seq 100); do
		grep -q 'listening on' "$TMP/log" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if grep -q 'Cannot assign requested address\|Address family not supported' "$TMP/log"; then
		skip "no IPv6 loopback here"
	fi
	url=$(sed -n 's|^arxiv-serve: listening on \(http://\[::1\]:[0-9]*/\) .*|\1|p' "$TMP/log")
	[ -n "$url" ] || { cat "$TMP/log"; return 1; }
	run curl -sg "${url}healthz"
	kill -TERM "$pid"
	wait "$pid"
	assert_success '{"status":"ok"}'
}

# A model with a domain check (>= 1000 training texts), trained on demand.
domain_model() {
	DMODEL="$BATS_FILE_TMPDIR/dmodel"
	[ -d "$DMODEL" ] && return 0
	(cd "$BATS_FILE_TMPDIR" && python3 "$TOP/tests/tools/phrase_corpus.py" 1200 1 > dtrain.jsonl &&
		python3 "$TOP/tests/tools/phrase_corpus.py" 300 2 > dval.jsonl &&
		arxiv-train -j 1 -s 1 -b 65536 -e 4 --loss softmax -o "$DMODEL" dtrain.jsonl dval.jsonl \
		> dtrain.log 2>&1) || { cat "$BATS_FILE_TMPDIR/dtrain.log"; return 1; }
}

@test "POST /api/predict/: \"explain\" adds the terms, bad values are 400" {
	need_model
	req "$URL/api/predict/" -d "{\"abstract\":\"$ABS\",\"explain\":3,\"top_k\":1}"
	expect 200
	echo "$body" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert list(d) == ["predicted_category", "confidence", "fields", "top_k", "explanation"], list(d)
ex = d["explanation"]
assert 1 <= len(ex) <= 3 and all(e["weight"] > 0 for e in ex), ex
words = "We propose a scalable approach to graph neural networks for learning on large graphs."
assert all(e["term"] in words for e in ex), ex   # the input'"'"'s own words
'
	req "$URL/api/predict/" -d "{\"abstract\":\"$ABS\",\"explain\":null}"
	expect 200
	[[ "$body" != *explanation* ]]
	req "$URL/api/predict/" -d "{\"abstract\":\"$ABS\",\"explain\":17}"
	expect 400 '{"error":"invalid request","detail":"\"explain\" must be an integer between 0 and 16"}'
	req "$URL/api/predict/" -d "{\"abstract\":\"$ABS\",\"min_confidence\":\"high\"}"
	expect 400 '{"error":"invalid request","detail":"\"min_confidence\" must be a number between 0 and 1"}'
	req "$URL/api/predict/" -d "{\"abstract\":\"$ABS\",\"ood_threshold\":-1}"
	expect 400 '{"error":"invalid request","detail":"\"ood_threshold\" must be a number between 0 and 1"}'
}

@test "POST /api/predict/: out-of-domain text is answered \"Other\" with the reason; in-domain keeps its answer" {
	need_model
	domain_model
	start_server "$TMP/d.log" -m "$DMODEL"
	req "$URL/api/predict/" -d '{"abstract":"asdf qwer zxcv","top_k":3}'
	expect 200
	[[ "$body" == '{"predicted_category":"Other","confidence":0.0,"abstained":true,"reason":"out of domain: 0 of 3 words known to the model","fields":[],"top_k":['* ]]
	req "$URL/api/predict/" -d '{"abstract":"We study Banach manifolds and Hilbert spaces; we prove lemmas on compact operators."}'
	expect 200
	[[ "$body" == '{"predicted_category":"Mathematics",'* && "$body" != *abstained* ]]
	# per request: the check off, or a minimum confidence
	req "$URL/api/predict/" -d '{"abstract":"asdf qwer zxcv","ood_threshold":0}'
	expect 200
	[[ "$body" != *abstained* ]]
	req "$URL/api/predict/" -d '{"abstract":"We study Banach manifolds and Hilbert spaces.","min_confidence":1}'
	expect 200
	[[ "$body" == *'"abstained":true,"reason":"not confident: top probability '* ]]
	# a batch: each item decided on its own
	req "$URL/api/predict/" -d '{"abstracts":["asdf qwer zxcv","We study neural networks with gradient descent and GPU kernels."],"top_k":1}'
	expect 200
	echo "$body" | python3 -c '
import json, sys
p = json.load(sys.stdin)["predictions"]
assert p[0]["abstained"] is True and p[0]["predicted_category"] == "Other", p
assert "abstained" not in p[1] and p[1]["predicted_category"] == "Computer Science", p
'
	stop_server
	# the server-wide default: --ood-threshold 0 keeps today's answers
	start_server "$TMP/d2.log" -m "$DMODEL" --ood-threshold 0
	req "$URL/api/predict/" -d '{"abstract":"asdf qwer zxcv"}'
	expect 200
	[[ "$body" != *abstained* ]]
	stop_server
}

# a similar-paper index of make_papers' 30 papers in $TMP: emb/ and papers.axi
make_index() {
	make_papers papers.jsonl
	arxiv-embed --learn emb papers.jsonl 2>/dev/null
	arxiv-embed -e emb papers.jsonl | arxiv-index -o papers.axi 2>/dev/null
}

@test "POST /api/similar/ without an index: 503 with the reason" {
	need_model
	req -d '{"abstract":"graphene","k":5}' "$URL/api/similar/"
	expect 503 '{"error":"no index","detail":"no similar-paper index is configured; start arxiv-serve with -i FILE (arxiv-index -o) or -d DSN"}'
	req "$URL/api/similar/"
	expect 405
	[ "$(header Allow)" = "POST, OPTIONS" ]
}

@test "POST /api/similar/ with -i: abstract or id, k, field; the answers of arxiv-similar" {
	need_model
	make_index
	start_server "$TMP/log" -m "$MODEL" -i papers.axi
	req -H 'Content-Type: application/json' -d '{"abstract":"We study superconductivity in twisted bilayer graphene"}' "$URL/api/similar/"
	expect 200
	[ "$(jq '.similar | length' <<<"$body")" -eq 5 ]
	[ "$(jq -r '.similar[].field' <<<"$body" | sort -u)" = Physics ]
	[ "$(jq -c '.similar[0] | keys_unsorted' <<<"$body")" = '["id","title","field","score"]' ]
	# the same neighbours, scores and order as arxiv-similar
	want=$(arxiv-similar -i papers.axi -K 5 <<<"We study superconductivity in twisted bilayer graphene" | jq -c 'del(.query)')
	[ "$(jq -c '.similar[]' <<<"$body")" = "$want" ]
	req -d '{"id":"2101.00021","k":9}' "$URL/api/similar/"
	expect 200
	[ "$(jq -r '.similar[].id' <<<"$body" | sort | tr '\n' ' ')" = "2101.00022 2101.00023 2101.00024 2101.00025 2101.00026 2101.00027 2101.00028 2101.00029 2101.00030 " ]
	req -d '{"abstract":"graphene superconductivity","k":2,"field":"Mathematics"}' "$URL/api/similar/"
	expect 200
	[ "$(jq -r '.similar[].field' <<<"$body" | sort -u)" = Mathematics ]
	req -d '{"id":"9999.99999"}' "$URL/api/similar/"
	expect 404 '{"error":"not found","detail":"paper 9999.99999 is not in the index"}'
	req -d '{"abstract":"x","id":"2101.00001"}' "$URL/api/similar/"
	expect 400 '{"error":"invalid request","detail":"give either \"abstract\" or \"id\", not both"}'
	req -d '{"abstract":"x","k":101}' "$URL/api/similar/"
	expect 400 '{"error":"invalid request","detail":"\"k\" must be an integer between 1 and 100"}'
	req -d '{"k":3}' "$URL/api/similar/"
	expect 400 '{"error":"invalid request","detail":"\"abstract\" (or \"id\") is required"}'
	req -d '{"abstract":' "$URL/api/similar/"
	expect 400
	[ "$(jq -r .error <<<"$body")" = "malformed JSON" ]
	req -H 'Content-Type: text/plain' -d '{"id":"2101.00001"}' "$URL/api/similar/"
	expect 415
	# /readyz reports the index
	req "$URL/readyz"
	expect 200
	[ "$(jq -c '.index | {kind, size, dim, text_queries}' <<<"$body")" = '{"kind":"file","size":30,"dim":256,"text_queries":true}' ]
	[ "$(jq -r .index.embedder <<<"$body")" = "$(jq -r .identity emb/embedder.json)" ]
	curl -s "$URL/metrics" | grep -q 'arxiv_http_requests_total{path="/api/similar/",status="404"} 1'
	stop_server
}

@test "arxiv-serve -i: an index that cannot be opened answers 503 with the reason; SIGHUP reopens it" {
	need_model
	make_index
	mv papers.axi later.axi
	start_server "$TMP/log" -m "$MODEL" -i papers.axi
	req -d '{"id":"2101.00001"}' "$URL/api/similar/"
	expect 503
	[ "$(jq -r .detail <<<"$body")" = "cannot open the index: papers.axi: No such file or directory; build the index with arxiv-index -o" ]
	req "$URL/readyz"
	expect 200
	[ "$(jq -r .index.error <<<"$body")" = "cannot open the index: papers.axi: No such file or directory; build the index with arxiv-index -o" ]
	mv later.axi papers.axi
	kill -HUP "$SPID"
	for i in $(seq 100); do grep -q "opened file index" "$TMP/log" && break; sleep 0.05; done
	req -d '{"id":"2101.00001","k":1}' "$URL/api/similar/"
	expect 200
	# without its embedder: ids still work, abstracts are 503 with the reason
	rm -r emb
	kill -HUP "$SPID"
	for i in $(seq 100); do grep -q "reopened file index" "$TMP/log" && break; sleep 0.05; done
	req -d '{"abstract":"graphene"}' "$URL/api/similar/"
	expect 503
	[ "$(jq -r .error <<<"$body")" = "no embedder" ]
	req -d '{"id":"2101.00001","k":1}' "$URL/api/similar/"
	expect 200
	stop_server
}

@test "the page in headless Chromium with -i: the five similar papers under the prediction (tests/browser_test.py)" {
	need_model
	py=/usr/bin/python3
	[ -x "$py" ] || py=python3
	"$py" -c 'import websocket' 2>/dev/null || skip "python3-websocket missing (apt-get install python3-websocket)"
	make_index
	start_server "$TMP/log" -m "$MODEL" -i papers.axi -w "$TOP/data/web"
	shots="$ARXIV_BUILD/test-artifacts"
	run timeout 120 "$py" "$TOP/tests/browser_test.py" --url "$URL/" --out "$shots" --expect-similar
	[ "$status" -ne 77 ] || skip "chromium not installed"
	echo "$output"
	assert_success
	assert_output_contains "ok: desktop: 5 similar papers listed"
	stop_server
	echo "# screenshot: $shots/serve-page-desktop-similar.png" >&3
}
