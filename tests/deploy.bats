#!/usr/bin/env bats
# deploy.bats - the deployment files without a container engine: hadolint over the
# Dockerfiles, compose.yaml as Debian's docker-compose 1.29 reads it, the image
# entry points, the systemd units (systemd-analyze verify), the apt mirror lookup.
# The images and the stack themselves: `make docker-check` (tests/docker/check.sh).
load helper

@test "deploy: every Dockerfile takes ARG BASE before its first FROM and builds FROM \${BASE}" {
	local f
	for f in "$TOP"/deploy/*/Dockerfile; do
		awk '/^FROM/ { exit !seen } /^ARG BASE=debian:bookworm-slim$/ { seen = 1 }' "$f" ||
			{ echo "$f: no ARG BASE=debian:bookworm-slim before FROM"; return 1; }
		grep -q '^FROM \${BASE}' "$f" || { echo "$f: no FROM \${BASE}"; return 1; }
	done
}

@test "deploy: hadolint is clean on every Dockerfile" {
	run "$TOP/tests/docker/hadolint.sh" "$TOP"/deploy/*/Dockerfile
	[ "$status" -ne 77 ] || skip "hadolint unavailable: $output"
	assert_success ""
}

@test "deploy: the toolchain image runs as a non-root user, serves arxiv-serve, checks /healthz" {
	local f="$TOP/deploy/arxiv/Dockerfile"
	# the runtime stage: a numeric non-root user, the health check, the default command
	sed -n '/^FROM \${BASE} AS runtime/,/^FROM /p' "$f" > runtime
	grep -qx 'USER 10001:10001' runtime
	grep -A1 '^HEALTHCHECK' runtime | grep -q 'curl .*/healthz'
	grep -qx 'CMD \["arxiv-serve"\]' runtime
	grep -q 'ARXIV_LISTEN=0.0.0.0:8000' runtime
	# no compiler, no -dev package, no libtorch in it
	! grep -E 'build-essential|-dev|libtorch' runtime
}

compose_config() {
	command -v docker-compose >/dev/null || skip "docker-compose not installed (Debian: docker-compose)"
	(cd "$TOP" && docker-compose -f compose.yaml "$@" config)
}

# ports() in the Python below: {target: (host_ip, published)} of a service, from
# the long syntax (docker compose) or the short one (docker-compose 1.29).
PORTS='
def ports(svc):
    out = {}
    for p in svc.get("ports", []):
        if isinstance(p, dict):
            out[int(p["target"])] = (p.get("host_ip", ""), str(p["published"]))
        else:
            f = p.split("/")[0].split(":")
            out[int(f[-1])] = (f[0] if len(f) == 3 else "", f[-2])
    return out
'

@test "deploy: compose.yaml is valid for docker-compose 1.29 (health checks, depends_on, volumes, ports)" {
	compose_config > config.yml
	/usr/bin/python3 - config.yml <<PY
import sys, yaml
$PORTS
c = yaml.safe_load(open(sys.argv[1]))
s = c["services"]
assert set(s) >= {"db", "mlflow", "api"}, set(s)
assert [n for n in s if s[n].get("profiles")] in ([], ["trainer"]), s   # trainer: a profile
for name in ("db", "mlflow", "api"):
    assert s[name]["healthcheck"]["test"], name
assert s["api"]["depends_on"]["db"]["condition"] == "service_healthy"
assert set(c["volumes"]) >= {"db", "mlflow", "artifacts"}, c["volumes"]
assert ports(s["db"]) == {5432: ("127.0.0.1", "5432")}, ports(s["db"])
assert ports(s["mlflow"])[5001][1] == "5001" and ports(s["api"])[8000][1] == "8000"
env = s["api"]["environment"]
assert env["ARXIV_ARTIFACTS"] and env["ARXIV_DSN"].startswith("postgresql://"), env
assert env["ARXIV_LISTEN"] == "0.0.0.0:8000"
assert s["api"]["build"]["args"]["BASE"] == "debian:bookworm-slim"
PY
}

@test "deploy: compose.yaml: the trainer under profile train; ports and base image from the environment" {
	ARXIV_BASE=arxiv-base:test ARXIV_API_PORT=18000 compose_config --profile train > config.yml
	/usr/bin/python3 - config.yml <<PY
import sys, yaml
$PORTS
s = yaml.safe_load(open(sys.argv[1]))["services"]
t = s["trainer"]
assert t["profiles"] == ["train"] and t["build"]["target"] == "trainer", t
assert t["depends_on"]["mlflow"]["condition"] == "service_healthy"
assert t["environment"]["MLFLOW_TRACKING_URI"] == "http://mlflow:5001"
assert all(s[n]["build"]["args"]["BASE"] == "arxiv-base:test" for n in s)
assert ports(s["api"]) == {8000: ("127.0.0.1", "18000")}, ports(s["api"])
PY
}

# A fake arxiv-serve that prints its arguments, and says --dsn in --help when $1.
fake_serve() {
	mkdir -p bin
	cat > bin/arxiv-serve <<-EOF
	#!/bin/sh
	if [ "\$1" = --help ]; then echo "usage: arxiv-serve ${1:-} [-m dir]"; exit 0; fi
	printf '%s\n' "\$@"
	EOF
	chmod +x bin/arxiv-serve
}

@test "deploy: the API's entry point builds arxiv-serve's command line from the environment" {
	local ep="$TOP/deploy/arxiv/entrypoint.sh"
	fake_serve ''
	PATH="$PWD/bin:$PATH" run env -u ARXIV_DSN ARXIV_ARTIFACTS=/a ARXIV_LISTEN=0.0.0.0:9 "$ep" arxiv-serve
	assert_success "$(printf '%s\n' -m /a -l 0.0.0.0:9)"
	PATH="$PWD/bin:$PATH" run env -u ARXIV_ARTIFACTS -u ARXIV_LISTEN -u ARXIV_DSN "$ep" arxiv-serve
	assert_success "$(printf '%s\n' -m /var/lib/arxiv/store/artifacts -l 0.0.0.0:8000)"
	# similar papers: passed on only to an arxiv-serve that has -d, -i, -e
	PATH="$PWD/bin:$PATH" run env ARXIV_DSN=postgresql://db/x ARXIV_EMBEDDER=/e "$ep" arxiv-serve
	assert_success
	[[ $output == *"has no -d; ARXIV_DSN ignored"* ]]
	[[ $output == *"has no -e; ARXIV_EMBEDDER ignored"* ]]
	[[ $output != *"postgresql://db/x"* ]]
	fake_serve '[-i index | -d dsn] [-e dir]'
	PATH="$PWD/bin:$PATH" run env ARXIV_ARTIFACTS=/a ARXIV_DSN=postgresql://db/x ARXIV_EMBEDDER=/e "$ep" arxiv-serve
	assert_success "$(printf '%s\n' -m /a -l 0.0.0.0:8000 -d postgresql://db/x -e /e)"
	PATH="$PWD/bin:$PATH" run env -u ARXIV_DSN ARXIV_INDEX=/i.axi "$ep" arxiv-serve
	assert_success "$(printf '%s\n' -m /var/lib/arxiv/store/artifacts -l 0.0.0.0:8000 -i /i.axi)"
	# anything else runs as given
	PATH="$PWD/bin:$PATH" run "$ep" arxiv-serve -q -m /b
	assert_success "$(printf '%s\n' -q -m /b)"
}

@test "deploy: arxiv-artifacts-in replaces the artifacts with the archive, refuses one without a model" {
	local in="$TOP/deploy/arxiv/artifacts-in.sh"
	mkdir -p store/artifacts/metadata new/metadata
	echo old > store/artifacts/metadata/artifact.json
	echo old > store/artifacts/stale
	echo '{"new":1}' > new/metadata/artifact.json
	tar -C new -c . | ARXIV_ARTIFACTS=$PWD/store/artifacts "$in"
	[ "$(cat store/artifacts/metadata/artifact.json)" = '{"new":1}' ]
	[ ! -e store/artifacts/stale ]
	[ "$(ls -A store)" = artifacts ]
	# an archive without metadata/artifact.json: the artifacts stay, nothing is left behind
	mkdir junk && echo x > junk/x
	ARXIV_ARTIFACTS=$PWD/store/artifacts run sh -c "tar -C junk -c . | '$in' '$PWD/store/artifacts'"
	assert_failure "arxiv-artifacts-in: no metadata/artifact.json in the archive"
	[ "$(cat store/artifacts/metadata/artifact.json)" = '{"new":1}' ]
	[ "$(ls -A store)" = artifacts ]
	# another directory (the embedder): any non-empty archive
	tar -C junk -c . | "$in" "$PWD/store/embedder"
	[ "$(cat store/embedder/x)" = x ]
	mkdir empty
	run sh -c "tar -C empty -c . | '$in' '$PWD/store/embedder'"
	assert_failure "arxiv-artifacts-in: an empty archive"
	[ "$(ls -A store)" = "$(printf 'artifacts\nembedder')" ]
}

@test "deploy: the systemd units verify clean (systemd-analyze verify) after make install" {
	command -v systemd-analyze >/dev/null || skip "systemd-analyze not installed"
	make -s -C "$TOP" BUILD="$ARXIV_BUILD" DESTDIR="$PWD/root" PREFIX=/usr/local install > /dev/null
	[ -x root/usr/local/share/arxiv/pipelines/run_pipeline.sh ]
	[ -x root/usr/local/share/arxiv/pipelines/spread.sh ]
	mkdir units
	local u
	for u in "$TOP"/data/systemd/*; do
		sed "s#/usr/local/#$PWD/root/usr/local/#g" "$u" > "units/${u##*/}"
	done
	[ -f units/arxiv-pipeline.service ] && [ -f units/arxiv-pipeline.timer ]
	MANPATH="$TOP/man:" run systemd-analyze verify units/arxiv-pipeline.service \
		units/arxiv-pipeline.timer units/arxiv-serve.service
	assert_success ""
	# the job reloads the API with SIGHUP; the timer is nightly and catches up
	grep -qx 'ExecStartPost=+/bin/systemctl --no-block try-reload-or-restart arxiv-serve.service' units/arxiv-pipeline.service
	grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' units/arxiv-serve.service
	grep -qx 'Type=oneshot' units/arxiv-pipeline.service
	grep -qx 'OnCalendar=\*-\*-\* 03:00:00' units/arxiv-pipeline.timer
	grep -qx 'Persistent=true' units/arxiv-pipeline.timer
}

@test "deploy: apt-mirror.sh reads one-line and deb822 sources, --security, none" {
	local m="$TOP/deploy/apt-mirror.sh"
	mkdir -p a/sources.list.d b/sources.list.d c/sources.list.d
	printf '# x\ndeb-src http://src.example/debian bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://one.example/debian/ bookworm main\n' > a/sources.list
	APT_ETC=a run "$m"
	assert_success "http://one.example/debian"
	cat > b/sources.list.d/debian.sources <<-'EOF'
	Types: deb-src
	URIs: http://src.example/debian
	Suites: bookworm

	Types: deb
	# a comment
	URIs: http://two.example/debian
	Suites: bookworm bookworm-updates
	Components: main

	Types: deb
	URIs: http://sec.example/debian-security
	Suites: bookworm-security
	EOF
	APT_ETC=b run "$m"
	assert_success "http://two.example/debian"
	APT_ETC=b run "$m" --security
	assert_success "http://sec.example/debian-security"
	APT_ETC=c run "$m"
	assert_failure ""
}

@test "deploy: the deployment scripts are shellcheck clean" {
	command -v shellcheck >/dev/null || skip "shellcheck not installed"
	run shellcheck -x -S warning "$TOP"/deploy/*.sh "$TOP"/deploy/*/*.sh "$TOP"/tests/docker/*.sh \
		"$TOP/pipelines/spread.sh"
	assert_success ""
}
