#!/usr/bin/env bats
# arxiv-hpo.bats - the search over real arxiv-train runs on the synthetic
# fixtures of tests/cases/arxiv-train, and over tests/fixtures/hpo/fake-train
# (ARXIV_TRAIN: a trainer whose value is known and whose "device" parameter
# injects crashes, hangs and NaN) for the journal, faults, resume and pruning.
load helper

FIX="$TOP/tests/cases/arxiv-train"
HPO="$TOP/tests/fixtures/hpo"
USAGE="usage: arxiv-hpo [-M fast|bert | --model=fast|bert] [-i init_dir | --init=init_dir] [-n trials | --trials=trials] [-j jobs | --jobs=jobs] [-o dir | --output=dir] [-s seed | --seed=seed] [-e epochs | --epochs=epochs] [-f | --force] [-t | --table] [--space=file] [--metric=accuracy|macro_f1|loss] [--sampler=tpe|random] [--prune] [--timeout=seconds] [--trial-jobs=n] [--set=key=value] [--resume] [--refit] [--ask] [--sshlogin=logins] [--slurm=options] [--worker] [--verbose] [train val]"

json_get() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
for k in sys.argv[2:]: d=d[k] if not k.isdigit() else d[int(k)]
print(d)' "$@"
}

# journal_count STATE: trials whose last record says STATE
journal_count() {
	python3 - "$1" art/hpo/journal.jsonl <<'PY'
import json, sys
last = {}
for line in open(sys.argv[2]):
    r = json.loads(line)
    if r["type"] == "start": last[r["trial"]] = "RUNNING"
    if r["type"] == "end": last[r["trial"]] = r["state"]
print(sum(1 for s in last.values() if s == sys.argv[1]))
PY
}

# the helper's, plus the test's own sshd (by its PID)
teardown() {
	if [ -s "$TMP/sshd.pid" ]; then
		ssh -F "$TMP/ssh_config" -O exit node1 2> /dev/null || true
		kill "$(cat "$TMP/sshd.pid")" 2> /dev/null || true
	fi
	for f in "$TMP/slurm/d.pid2" "$TMP/slurm/ctld.pid2" "$TMP/slurm/munge.pid"; do
		[ -s "$f" ] && kill "$(cat "$f")" 2> /dev/null
	done
	cd / && rm -rf "$TMP"
}

fake() {
	ARXIV_TRAIN="$HPO/fake-train" arxiv-hpo "$@"
}

@test "arxiv-hpo --help lists every option, --version, bad usage" {
	run arxiv-hpo --help
	assert_success
	[ "$(synopsis)" = "$USAGE" ] || { echo "$(synopsis)"; return 1; }
	for o in "-M, --model=fast|bert" "-i, --init=init_dir" "-n, --trials=trials" "-j, --jobs=jobs" \
		"-o, --output=dir" "-s, --seed=seed" "-e, --epochs=epochs" "-f, --force" "-t, --table" \
		"    --space=file" "    --metric=accuracy|macro_f1|loss" "    --sampler=tpe|random" \
		"    --prune" "    --timeout=seconds" "    --trial-jobs=n" "    --set=key=value" "    --resume" \
		"    --refit" "    --ask" "    --sshlogin=logins" "    --slurm=options" "    --worker" \
		"    --verbose" "-h, --help" "-V, --version"; do
		assert_output_contains "  $o "
	done
	run arxiv-hpo --version
	assert_success "arxiv-hpo 0.1.0"
	run arxiv-hpo --bogus
	assert_status 2
	[ "$(synopsis)" = "$USAGE" ]
	run arxiv-hpo only-one.jsonl
	assert_status 2
	[ "$(synopsis)" = "$USAGE" ]
	run arxiv-hpo --metric f2 a b
	assert_status 2
	assert_line "arxiv-hpo: f2: unknown metric (accuracy, macro_f1 or loss)"
	run arxiv-hpo --sampler grid a b
	assert_status 2
	assert_line "arxiv-hpo: grid: unknown sampler (tpe or random)"
	run arxiv-hpo --set nosuch=1 a b
	assert_status 2
	assert_line "arxiv-hpo: --set: unknown training parameter 'nosuch'"
	run arxiv-hpo -n 0 a b
	assert_status 2
}

@test "arxiv-hpo: the man page SYNOPSIS matches usage(), mandoc -Tlint clean" {
	[ "$(man_synopsis man1/arxiv-hpo.1)" = "$USAGE" ] ||
		{ echo "man:   $(man_synopsis man1/arxiv-hpo.1)"; echo "usage: $USAGE"; return 1; }
	run sh -c "mandoc -Tlint '$TOP/man/man1/arxiv-hpo.1' 2>&1 | grep -v -e 'referenced manual not found' -e mandoc.db"
	assert_output ""
}

@test "arxiv-hpo: a bad search space is refused with file:line" {
	: > t.jsonl; : > v.jsonl
	printf 'lr loguniform 0.01 1\nnosuch uniform 0 1\n' > s1
	run arxiv-hpo --space s1 t.jsonl v.jsonl
	assert_status 1
	assert_output "arxiv-hpo: s1:2: unknown training parameter 'nosuch'"
	printf '# lr\n\nlr uniform 0.5 0.5\n' > s2
	run arxiv-hpo --space s2 t.jsonl v.jsonl
	assert_status 1
	assert_output "arxiv-hpo: s2:3: 'lr': lo must be below hi (0.5 >= 0.5)"
	printf '# nothing\n' > s3
	run arxiv-hpo --space s3 t.jsonl v.jsonl
	assert_status 1
	assert_output "arxiv-hpo: s3: empty search space (no parameter lines)"
	printf 'lr normal 0 1\n' > s4
	run arxiv-hpo --space s4 t.jsonl v.jsonl
	assert_status 1
	assert_output "arxiv-hpo: s4:1: 'lr': unknown kind 'normal' (uniform, loguniform, int or categorical)"
	printf 'lr uniform 0 1\n' > s5
	run arxiv-hpo --space s5 --set lr=0.1 t.jsonl v.jsonl
	assert_status 2
	assert_output "arxiv-hpo: --set lr=0.1: 'lr' is in the search space (line 1 of s5)"
	[ ! -e artifacts ]
}

@test "arxiv-hpo: real arxiv-train trials, best model and best_hyperparams.json, nested MLflow runs" {
	printf 'lr loguniform 0.05 0.5\nword_ngrams int 1 2\nloss categorical hinge softmax\n' > space
	run arxiv-hpo -n 4 -j 2 --trial-jobs 1 --set buckets=65536 --set epochs=3 --space space \
		-o art "$FIX/train.jsonl" "$FIX/val.jsonl"
	assert_success
	best=$(json_get art/metadata/best_hyperparams.json trial)
	[ "$(json_get art/metadata/best_hyperparams.json metric)" = loss ]
	[ "$(json_get art/metadata/best_hyperparams.json n_complete)" = 4 ]
	# the best value is the minimum of the journal's values and the installed model's
	python3 - <<'PY'
import json
ends = [json.loads(l) for l in open("art/hpo/journal.jsonl") if '"end"' in l]
vals = {r["trial"]: r["value"] for r in ends if r["state"] == "COMPLETE"}
b = json.load(open("art/metadata/best_hyperparams.json"))
assert len(vals) == 4 and b["value"] == min(vals.values()), (vals, b)
assert vals[b["trial"]] == b["value"]
m = json.load(open("art/metadata/metrics.json"))
assert abs(m["val"]["loss"] - b["value"]) < 1e-9, (m["val"]["loss"], b["value"])
a = json.load(open("art/metadata/artifact.json"))["params"]
for k, v in b["params"].items():
    key = {"learning_rate": "lr"}.get(k, k)
    assert (abs(a[key] - v) < 1e-9 * max(1, abs(v))) if isinstance(v, float) else a[key] == v, (k, a[key], v)
assert a["buckets"] == 65536 and a["epochs"] == 3
PY
	[ "$output" = "$(python3 -c 'import json; print(json.dumps(json.load(open("art/metadata/best_hyperparams.json")), separators=(",", ":")))')" ]
	# the installed artifacts predict
	echo '{"abstract":"quantum entanglement of photons in optical cavities"}' > q.jsonl
	run arxiv-predict -m art q.jsonl
	assert_success
	# MLflow: one parent run, four children tagged with its id
	parent=$(python3 -c 'import json; print(json.loads(open("art/hpo/journal.jsonl").readline())["mlflow_run_id"])')
	[ -n "$parent" ]
	[ "$(cat mlruns/*/"$parent"/tags/arxiv.kind)" = search ]
	[ "$(for f in mlruns/*/*/tags/mlflow.parentRunId; do cat "$f"; echo; done | sort | uniq -c |
		awk '{print $1, $2}')" = "4 $parent" ]
	[ "$(cat mlruns/*/"$parent"/tags/arxiv.best_trial)" = "$best" ]
	grep -l "trial $best" mlruns/*/*/tags/mlflow.runName > /dev/null
	# -t on the journal: a header and 4 rows, the best one starred
	run arxiv-hpo -t -o art
	assert_success
	[ "${#lines[@]}" -eq 5 ]
	[ "${lines[0]}" = "trial  state           loss   seconds  lr  word_ngrams  loss" ]
	assert_output_contains "$(printf '%5s*' "$best")"
	# a second search over the same directory must say what to do
	run arxiv-hpo -n 1 --space space -o art "$FIX/train.jsonl" "$FIX/val.jsonl"
	assert_status 1
	assert_output "arxiv-hpo: art/hpo/journal.jsonl: a search is there already: continue it with --resume, or start over with -f"
}

@test "arxiv-hpo --refit retrains the best parameters on train+val" {
	printf 'lr loguniform 0.05 0.5\n' > space
	run arxiv-hpo -n 2 --trial-jobs 1 --set buckets=65536 --set epochs=2 --space space --refit \
		-o art "$FIX/train.jsonl" "$FIX/val.jsonl"
	assert_success
	[ "$(json_get art/metadata/best_hyperparams.json refit)" = True ]
	n=$(( $(wc -l < "$FIX/train.jsonl") + $(wc -l < "$FIX/val.jsonl") ))
	[ "$(json_get art/metadata/artifact.json train_examples)" = "$n" ]
	[ "$(json_get art/metadata/artifact.json params patience)" = 0 ]
}

@test "arxiv-hpo: crashing, hanging, NaN and failing trials fail alone, the journal says why" {
	: > t.jsonl; : > v.jsonl
	run fake -n 14 -j 3 --timeout 2 --space "$HPO/faults.space" -o art t.jsonl v.jsonl
	assert_success
	python3 - <<'PY'
import json
recs = [json.loads(l) for l in open("art/hpo/journal.jsonl")]
start = {r["trial"]: r["params"]["device"] for r in recs if r["type"] == "start"}
end = {r["trial"]: r for r in recs if r["type"] == "end"}
assert sorted(end) == list(range(14)), sorted(end)
want = {"crash": "killed by signal 11 (Segmentation fault)", "hang": "timed out after 2 s",
        "nan": "objective val.loss is not a finite number",
        "fail": "exit status 1: arxiv-train: training diverged at epoch 1 (loss is not finite); lower the learning rate"}
seen = set()
for t, dev in start.items():
    e = end[t]
    if dev in want:
        assert e["state"] == "FAILED" and e["reason"] == want[dev] and e["value"] is None, e
        seen.add(dev)
    else:
        assert e["state"] == "COMPLETE" and isinstance(e["value"], float), e
assert seen == set(want), seen
b = json.load(open("art/metadata/best_hyperparams.json"))
assert b["params"]["device"] in ("ok", "ok2") and b["n_failed"] == sum(1 for d in start.values() if d in want)
PY
	for f in art/hpo/trial-*/train.log; do [ -e "$f" ]; done
}

@test "arxiv-hpo --resume after kill -9 loses no finished trial and re-runs the running ones" {
	: > t.jsonl; : > v.jsonl
	FAKE_SLEEP=1 ARXIV_TRAIN="$HPO/fake-train" arxiv-hpo -n 10 -j 2 \
		--space "$HPO/quad.space" -o art t.jsonl v.jsonl > out1 2>&1 &
	pid=$!
	for _ in $(seq 1 200); do
		[ "$(grep -c '"type":"end"' art/hpo/journal.jsonl 2>/dev/null)" -ge 3 ] && break
		sleep 0.1
	done
	kill -9 "$pid"
	wait "$pid" || true
	cp art/hpo/journal.jsonl before.jsonl
	ended=$(journal_count COMPLETE)
	running=$(journal_count RUNNING)
	[ "$ended" -ge 3 ] && [ "$ended" -lt 10 ] && [ "$running" -ge 1 ]
	run fake --resume --verbose -n 10 -j 2 -o art t.jsonl v.jsonl
	assert_success
	assert_output_contains "resuming: $ended trials ended, $running were running"
	assert_output_contains "re-queued (was running when the search stopped)"
	# the journal only grew; every trial ended exactly once; 10 in all
	cmp before.jsonl <(head -c "$(stat -c %s before.jsonl)" art/hpo/journal.jsonl)
	[ "$(journal_count COMPLETE)" = 10 ]
	python3 - <<'PY'
import json, collections
recs = [json.loads(l) for l in open("art/hpo/journal.jsonl")]
ends = collections.Counter(r["trial"] for r in recs if r["type"] == "end")
assert sorted(ends) == list(range(10)) and set(ends.values()) == {1}, ends
before = [json.loads(l) for l in open("before.jsonl")]
# re-queued trials ran with the parameters they had
first = {}
for r in recs:
    if r["type"] == "start":
        first.setdefault(r["trial"], r["x"])
        assert r["x"] == first[r["trial"]]
PY
}

@test "arxiv-hpo: the same seed and journal propose the same next point (--ask)" {
	: > t.jsonl; : > v.jsonl
	run fake -n 12 --space "$HPO/quad.space" -o art t.jsonl v.jsonl
	assert_success
	a=$(arxiv-hpo --ask -o art)
	cp -r art art2
	b=$(arxiv-hpo --ask -o art2)
	[ "$a" = "$b" ]
	[ "$(echo "$a" | python3 -c 'import json,sys; print(json.load(sys.stdin)["trial"])')" = 12 ]
	# and the next trial of a resumed search runs exactly that point
	run fake --resume -n 13 -o art t.jsonl v.jsonl
	assert_success
	want=$(echo "$a" | python3 -c 'import json,sys; print(json.load(sys.stdin)["params"]["lr"])')
	got=$(grep '"type":"start","trial":12,' art/hpo/journal.jsonl | python3 -c 'import json,sys; print(json.load(sys.stdin)["params"]["lr"])')
	[ "$want" = "$got" ]
	# another seed, another point
	run fake -f -s 7 -n 12 --space "$HPO/quad.space" -o art2 t.jsonl v.jsonl
	assert_success
	[ "$(arxiv-hpo --ask -o art2)" != "$a" ]
	# TPE found the minimum at lr = 0.3 (value 0.1/3 at 3 epochs)
	v=$(json_get art/metadata/best_hyperparams.json value)
	python3 -c "import sys; v=$v; sys.exit(0 if v < 1/30 + 0.002 else 1)"
}

@test "arxiv-hpo --prune stops trials worse than the median at an epoch" {
	: > t.jsonl; : > v.jsonl
	run env FAKE_SLEEP=0.25 ARXIV_TRAIN="$HPO/fake-train" arxiv-hpo --prune --sampler random \
		-n 12 --set epochs=4 --space "$HPO/quad.space" -o art t.jsonl v.jsonl
	assert_success
	python3 - <<'PY'
import json
recs = [json.loads(l) for l in open("art/hpo/journal.jsonl")]
ends = [r for r in recs if r["type"] == "end"]
pruned = [r for r in ends if r["state"] == "PRUNED"]
assert len(ends) == 12 and pruned, [(r["state"], r["value"]) for r in ends]
steps = {}
for r in recs:
    if r["type"] == "step":
        steps.setdefault(r["trial"], []).append(r["value"])
for r in pruned:
    assert r["reason"].startswith("pruned at epoch "), r
    assert len(steps[r["trial"]]) < 4
# no pruning before 5 completed trials
assert all(r["state"] == "COMPLETE" for r in ends[:5])
PY
}

@test "arxiv-hpo: output to /dev/full fails" {
	: > t.jsonl; : > v.jsonl
	run fake -n 2 --space "$HPO/quad.space" -o art t.jsonl v.jsonl
	assert_success
	run sh -c 'arxiv-hpo -t -o art > /dev/full'
	assert_status 1
	run sh -c 'arxiv-hpo --help > /dev/full'
	assert_status 1
}

# An sshd of the test's own on a free loopback port (own host key, user key and
# config; key login of the current user, root included, in this config only),
# and an ssh config naming it node1 and node2, plus node3 on a closed port.
start_sshd() {
	command -v parallel > /dev/null || skip "GNU parallel not installed (pipelines/install-deps.sh)"
	command -v rsync > /dev/null || skip "rsync not installed (pipelines/install-deps.sh)"
	[ -x /usr/sbin/sshd ] || skip "openssh-server not installed (pipelines/install-deps.sh)"
	local port dead
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	ssh-keygen -q -t ed25519 -N '' -f "$TMP/hostkey"
	ssh-keygen -q -t ed25519 -N '' -f "$TMP/userkey"
	cp "$TMP/userkey.pub" "$TMP/authorized_keys"
	chmod 600 "$TMP/authorized_keys"
	cat > "$TMP/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $TMP/hostkey
PidFile $TMP/sshd.pid
AuthorizedKeysFile $TMP/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
CONF
	cat > "$TMP/ssh_config" <<CONF
Host node1 node2
	HostName 127.0.0.1
	Port $port
Host node3
	HostName 127.0.0.1
	Port $dead
	ConnectTimeout 3
Host *
	User $(id -un)
	IdentityFile $TMP/userkey
	IdentitiesOnly yes
	StrictHostKeyChecking no
	UserKnownHostsFile /dev/null
	LogLevel ERROR
	BatchMode yes
	ControlMaster auto
	ControlPath $TMP/cm-%h-%p
	ControlPersist 60
CONF
	[ "$(id -u)" -ne 0 ] || mkdir -p /run/sshd
	/usr/sbin/sshd -f "$TMP/sshd_config" -E "$TMP/sshd.log" ||
		skip "sshd does not start here: $(cat "$TMP/sshd.log")"
	for _ in $(seq 1 50); do [ -s "$TMP/sshd.pid" ] && break; sleep 0.1; done
	export PARALLEL_SSH="ssh -F $TMP/ssh_config"
	ssh -F "$TMP/ssh_config" node1 true || { cat "$TMP/sshd.log"; return 1; }
}

stop_sshd() {
	ssh -F "$TMP/ssh_config" -O exit node1 2> /dev/null || true
	[ -s "$TMP/sshd.pid" ] && kill "$(cat "$TMP/sshd.pid")" 2> /dev/null
	rm -f "$TMP/sshd.pid"
}

@test "arxiv-hpo --sshlogin: trials on two hosts through GNU parallel, a dead host fails alone" {
	start_sshd
	printf 'lr loguniform 0.05 0.5\n' > space
	ARXIV_TRAIN="$ARXIV_BUILD/bin/arxiv-train" run arxiv-hpo --verbose -n 5 \
		--sshlogin 1/node1,1/node2,1/node3 --set buckets=65536 --set epochs=2 --space space \
		-o art "$FIX/train.jsonl" "$FIX/val.jsonl"
	stop_sshd
	assert_success
	assert_output_contains "node3: lost (ssh failed twice); no more trials there"
	python3 - <<'PY'
import json, os
recs = [json.loads(l) for l in open("art/hpo/journal.jsonl")]
host = {r["trial"]: r["host"] for r in recs if r["type"] == "start"}
end = {r["trial"]: r for r in recs if r["type"] == "end"}
assert len(end) == 5
for t, h in host.items():
    if h == "node3":
        assert end[t]["state"] == "FAILED" and "ssh: connect to host" in end[t]["reason"], end[t]
    else:
        assert end[t]["state"] == "COMPLETE", end[t]
        # the model came back (--return), the log has the remote epochs
        assert os.path.exists(f"art/hpo/trial-{t:04d}/model/metadata/metrics.json")
        assert "epoch 2/2" in open(f"art/hpo/trial-{t:04d}/train.log").read()
assert {"node1", "node2"} <= set(host.values()) and list(host.values()).count("node3") == 2
PY
	[ -s art/model/model.safetensors ]
	# --cleanup left nothing in the remote work dirs
	[ -z "$(find ~/.parallel/tmp -name 'trial-*' 2> /dev/null)" ]
}

# A single-node Slurm of the test's own: munged, slurmctld and slurmd from
# Debian's slurm-wlm and munge, config and state in $TMP, free ports.
start_slurm() {
	command -v slurmctld > /dev/null && command -v munged > /dev/null ||
		skip "slurm-wlm or munge not installed (pipelines/install-deps.sh)"
	[ "$(id -u)" -eq 0 ] || skip "a test Slurm needs root (slurmd runs jobs as their user)"
	local p1 p2 h
	p1=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	p2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	h=$(hostname -s)
	mkdir -p "$TMP/slurm/state" "$TMP/slurm/spool" "$TMP/slurm/munge"
	dd if=/dev/urandom of="$TMP/slurm/munge.key" bs=1 count=1024 2> /dev/null
	chmod 400 "$TMP/slurm/munge.key"
	/usr/sbin/munged --force --key-file="$TMP/slurm/munge.key" \
		--socket="$TMP/slurm/munge/munge.socket" --pid-file="$TMP/slurm/munge.pid" \
		--log-file="$TMP/slurm/munge.log" --seed-file="$TMP/slurm/munge.seed" ||
		skip "munged does not start: $(cat "$TMP/slurm/munge.log")"
	cat > "$TMP/slurm/slurm.conf" <<CONF
ClusterName=arxivtest
SlurmctldHost=$h(127.0.0.1)
SlurmctldPort=$p1
SlurmdPort=$p2
AuthType=auth/munge
AuthInfo=socket=$TMP/slurm/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$TMP/slurm/state
SlurmdSpoolDir=$TMP/slurm/spool
SlurmctldPidFile=$TMP/slurm/slurmctld.pid
SlurmdPidFile=$TMP/slurm/slurmd.pid
SlurmctldLogFile=$TMP/slurm/slurmctld.log
SlurmdLogFile=$TMP/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName=$h NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
	export SLURM_CONF="$TMP/slurm/slurm.conf"
	/usr/sbin/slurmctld -D -f "$SLURM_CONF" > "$TMP/slurm/ctld.out" 2>&1 &
	echo $! > "$TMP/slurm/ctld.pid2"
	/usr/sbin/slurmd -D -f "$SLURM_CONF" > "$TMP/slurm/d.out" 2>&1 &
	echo $! > "$TMP/slurm/d.pid2"
	for _ in $(seq 1 100); do
		sinfo -h -o %t 2> /dev/null | grep -q idle && return 0
		sleep 0.2
	done
	skip "the test Slurm did not come up: $(tail -3 "$TMP/slurm/slurmctld.log" "$TMP/slurm/slurmd.log")"
}

stop_slurm() {
	local f
	for f in "$TMP/slurm/d.pid2" "$TMP/slurm/ctld.pid2" "$TMP/slurm/munge.pid"; do
		[ -s "$f" ] && kill "$(cat "$f")" 2> /dev/null
		rm -f "$f"
	done
	return 0
}

@test "arxiv-hpo --slurm: trials as a job array of workers on the shared journal" {
	start_slurm
	: > t.jsonl; : > v.jsonl
	ARXIV_TRAIN="$HPO/fake-train" run arxiv-hpo --verbose -n 6 -j 2 --slurm partition=debug \
		--space "$HPO/quad.space" -o art t.jsonl v.jsonl
	stop_slurm
	assert_success
	assert_output_contains "Slurm job array "
	# on failure, what each task and the Slurm daemons said
	assert_output_contains "6 of 6 trials ended" ||
		{ tail -n 8 art/hpo/slurm-*.out art/hpo/journal.jsonl "$TMP"/slurm/*.log; return 1; }
	python3 - <<'PY'
import json
recs = [json.loads(l) for l in open("art/hpo/journal.jsonl")]
starts = [r for r in recs if r["type"] == "start"]
ends = [r for r in recs if r["type"] == "end"]
assert len(starts) == 6 and len(ends) == 6 and all(e["state"] == "COMPLETE" for e in ends)
assert all("(Slurm job " in s["host"] for s in starts), [s["host"] for s in starts]
assert sorted(s["trial"] for s in starts) == list(range(6))
# each task proposed under the lock: six different points
assert len({s["x"][0] for s in starts}) == 6
PY
	[ -s art/metadata/best_hyperparams.json ]
	ls art/hpo/slurm-*_0.out > /dev/null
}

@test "arxiv-hpo -M bert: the original's default space, -i passed to every trial" {
	: > t.bin; : > v.bin
	run arxiv-hpo -M bert -n 1 t.bin v.bin
	assert_status 2
	assert_output "arxiv-hpo: -M bert needs -i init_dir (or --set config=FILE)"
	mkdir ckpt
	run fake -M bert -i ckpt -e 5 -n 2 -o art t.bin v.bin
	assert_success
	python3 - <<'PY'
import json
recs = [json.loads(l) for l in open("art/hpo/journal.jsonl")]
sp = recs[0]["space"]
for line in ("learning_rate loguniform 1e-5 5e-5", "batch_size categorical 8 16 32",
             "weight_decay uniform 0 0.3", "warmup_ratio uniform 0 0.2", "epochs int 2 5"):
    assert line in sp.splitlines(), (line, sp)
assert recs[0]["model"] == "bert"
for r in recs:
    if r["type"] == "start":
        p = r["params"]
        assert 1e-5 <= p["learning_rate"] <= 5e-5 and p["batch_size"] in (8, 16, 32)
        assert 2 <= p["epochs"] <= 5
PY
	grep -q -- "-M bert -i ckpt " art/hpo/trial-0000/train.log
	grep -q -- "--param learning_rate=" art/hpo/trial-0001/train.log
}

@test "arxiv-hpo: the man page EXAMPLES run (fake trainer)" {
	: > train.jsonl; : > val.jsonl; : > train.bin; : > val.bin
	mkdir scibert
	printf 'learning_rate loguniform 1e-5 5e-5\nwarmup_ratio uniform 0 0.2\n' > space.txt
	local n=0
	while IFS= read -r cmd; do
		n=$((n + 1))
		ARXIV_TRAIN="$HPO/fake-train" run sh -c "$cmd"
		[ "$status" -eq 0 ] || { echo "example failed: $cmd"; echo "$output"; return 1; }
	done < <(man_examples man1/arxiv-hpo.1)
	[ "$n" -eq 4 ]
	[ "$(json_get artifacts/metadata/best_hyperparams.json n_trials)" = 40 ]
	[ "$(json_get art/metadata/best_hyperparams.json metric)" = accuracy ]
}
