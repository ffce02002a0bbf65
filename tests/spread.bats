#!/usr/bin/env bats
# spread.bats - pipelines/spread.sh and run_pipeline.sh --sshlogin: map, clean and
# tok on blocks spread over two ssh "nodes" (two host aliases of one sshd that the
# test starts on 127.0.0.1 with its own host key, user key and config), with the
# same bytes as the serial run; a node that is down; all nodes down.
load helper

SPREAD="$TOP/pipelines/spread.sh"

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# One sshd for the file, on a free loopback port, as the user running the tests.
setup_file() {
	export SSHD_WHY='' SSHD_DIR="$BATS_FILE_TMPDIR/sshd"
	local sshd=/usr/sbin/sshd port down user
	command -v parallel >/dev/null || { SSHD_WHY="GNU parallel not installed"; return 0; }
	[ -x "$sshd" ] || { SSHD_WHY="sshd not installed ($sshd; Debian: openssh-server)"; return 0; }
	mkdir -p "$SSHD_DIR" && chmod 700 "$SSHD_DIR"
	port=$(free_port) down=$(free_port) user=$(id -un)
	ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/host_key"
	ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/user_key"
	cp "$SSHD_DIR/user_key.pub" "$SSHD_DIR/authorized_keys"
	chmod 600 "$SSHD_DIR/authorized_keys"
	# root's sshd wants its privilege separation directory
	[ "$(id -u)" -ne 0 ] || mkdir -p /run/sshd
	cat > "$SSHD_DIR/sshd_config" <<-CONF
	ListenAddress 127.0.0.1
	Port $port
	HostKey $SSHD_DIR/host_key
	AuthorizedKeysFile $SSHD_DIR/authorized_keys
	PidFile $SSHD_DIR/sshd.pid
	StrictModes no
	UsePAM no
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	PermitRootLogin prohibit-password
	AcceptEnv LANG LC_*
	MaxStartups 100
	MaxSessions 100
	CONF
	printf '[127.0.0.1]:%s %s\n' "$port" "$(cat "$SSHD_DIR/host_key.pub")" > "$SSHD_DIR/known_hosts"
	cat > "$SSHD_DIR/ssh_config" <<-CONF
	Host node1 node2 down
	  HostName 127.0.0.1
	  User $user
	  IdentityFile $SSHD_DIR/user_key
	  IdentitiesOnly yes
	  UserKnownHostsFile $SSHD_DIR/known_hosts
	  StrictHostKeyChecking yes
	  BatchMode yes
	  ConnectTimeout 5
	  LogLevel ERROR
	Host node1 node2
	  Port $port
	Host down
	  Port $down
	CONF
	"$sshd" -f "$SSHD_DIR/sshd_config" -E "$SSHD_DIR/sshd.log" ||
		{ SSHD_WHY="sshd does not start: $(tail -n 1 "$SSHD_DIR/sshd.log")"; return 0; }
	local i
	for i in $(seq 50); do
		ssh -F "$SSHD_DIR/ssh_config" node1 true 2>/dev/null && return 0
		sleep 0.1
	done
	SSHD_WHY="ssh to the test sshd fails: $(ssh -F "$SSHD_DIR/ssh_config" node1 true 2>&1 | tail -n 1)"
}

teardown_file() {
	if [ -s "$SSHD_DIR/sshd.pid" ]; then kill "$(cat "$SSHD_DIR/sshd.pid")" 2>/dev/null || true; fi
}

need_sshd() {
	[ -z "$SSHD_WHY" ] || skip "$SSHD_WHY"
	export PARALLEL_SSH="ssh -F $SSHD_DIR/ssh_config"
}

# 3000 synthetic arXiv records (several fields, some LaTeX and Unicode).
dump() {
	local i cats=("hep-th math.MP" "cs.LG stat.ML" "q-bio.NC" "math.AG" "astro-ph.GA")
	for i in $(seq 3000); do
		printf '{"id":"%04d.%05d","title":"On the $\\\\alpha$-graphs of record %d","abstract":"We study r\\u00e9gime %d of the Lie algebra; it is tokenized, cleaned and mapped.","categories":"%s"}\n' \
			"$((i % 97))" "$i" "$i" "$i" "${cats[i % 5]}"
	done
}

@test "spread.sh: --help, bad option exit 2, no command exit 2" {
	run "$SPREAD" --help
	assert_success
	[[ $output == usage:* ]]
	run "$SPREAD" --bogus -- cat
	assert_status 2
	[[ $output == *usage:* ]]
	run "$SPREAD" --retries 0 -- cat
	assert_status 2
	run "$SPREAD"
	assert_status 2
}

@test "spread.sh on this host: map and clean give the serial bytes" {
	dump > in.jsonl
	arxiv-map < in.jsonl > map1
	arxiv-clean < map1 > clean1
	"$SPREAD" --block 64k -o map2 -- arxiv-map < in.jsonl
	"$SPREAD" --block 64k -o clean2 -- arxiv-clean < map2
	cmp map1 map2
	cmp clean1 clean2
	[ "$(wc -l < clean2)" -eq 3000 ]
}

@test "spread.sh over two ssh nodes: map | clean byte-identical to the serial run" {
	need_sshd
	dump > in.jsonl
	arxiv-map < in.jsonl | arxiv-clean > serial
	"$SPREAD" --sshlogin 2/node1,2/node2 --block 32k -o map2 -- arxiv-map < in.jsonl
	"$SPREAD" --sshlogin 2/node1,2/node2 --block 32k -o clean2 -- arxiv-clean < map2
	cmp serial clean2
	# several blocks went over ssh: the sshd logged more than two sessions
	[ "$(grep -c 'Accepted publickey' "$SSHD_DIR/sshd.log")" -gt 2 ]
}

@test "spread.sh over two ssh nodes: tok gives the local blocks' bytes and the serial records" {
	need_sshd
	cp "$CASES/arxiv-tok/vocab.txt" vocab.txt
	dump | arxiv-map | arxiv-clean > clean.jsonl
	arxiv-tok -n 32 -v "$PWD/vocab.txt" < clean.jsonl > serial.bin
	parallel --pipe -k --block 64k arxiv-tok -n 32 -v "$PWD/vocab.txt" < clean.jsonl > local.bin
	"$SPREAD" --sshlogin 1/node1,1/node2 --block 64k -o ssh.bin -- arxiv-tok -n 32 -v "$PWD/vocab.txt" < clean.jsonl
	cmp local.bin ssh.bin
	cmp <(arxiv-tok -d serial.bin) <(arxiv-tok -d ssh.bin)
	[ "$(arxiv-tok -d ssh.bin | wc -l)" -eq 3000 ]
}

@test "spread.sh: a node that is down: its blocks are retried on the other, same bytes" {
	need_sshd
	dump > in.jsonl
	arxiv-map < in.jsonl > serial
	run "$SPREAD" --sshlogin 1/down,1/node1 --block 32k -o out -- arxiv-map < in.jsonl
	assert_success
	cmp serial out
}

@test "spread.sh: every node down: exit 1, a clear error, no output file, no temporary file" {
	need_sshd
	dump > in.jsonl
	echo old > out
	run "$SPREAD" --sshlogin 1/down --retries 2 --block 32k -o out -- arxiv-map < in.jsonl
	assert_status 1
	[[ $output == *"spread.sh: arxiv-map failed on a block; out not written"* ]]
	[ "$(cat out)" = old ]
	[ "$(ls -A)" = "$(printf 'in.jsonl\nout')" ]
}

@test "spread.sh: a filter that fails on a node: exit 1, no output file" {
	need_sshd
	dump > in.jsonl
	printf '{"id":"x"}\n' >> in.jsonl
	run "$SPREAD" --sshlogin 1/node1,1/node2 --block 32k -o out -- arxiv-map < in.jsonl
	assert_status 1
	[[ $output == *"spread.sh: arxiv-map failed on a block; out not written"* ]]
	[ ! -e out ]
	[ "$(ls -A)" = in.jsonl ]
}
