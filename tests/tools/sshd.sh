#!/usr/bin/env bash
# tests/tools/sshd.sh start|stop DIR - a private sshd on a free 127.0.0.1 port for
# tests and benchmarks, as the user running them: its own host key, user key and
# config in DIR. "start" writes DIR/ssh_config with the host aliases node1 and
# node2 (this sshd) and "down" (a free port where nothing listens), so
#   PARALLEL_SSH="ssh -F DIR/ssh_config" parallel -S 1/node1,1/node2 ...
# reaches two "nodes". It prints why and exits 1 when sshd cannot start.
# "stop" kills that sshd (by its pid file).
set -euo pipefail
cmd=${1:-} dir=${2:-}
[ -n "$dir" ] || { echo "usage: sshd.sh start|stop DIR" >&2; exit 2; }
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
case $cmd in
stop)
	if [ -s "$dir/sshd.pid" ]; then kill "$(cat "$dir/sshd.pid")" 2>/dev/null || true; fi
	exit 0 ;;
start) ;;
*) echo "usage: sshd.sh start|stop DIR" >&2; exit 2 ;;
esac
sshd=/usr/sbin/sshd
[ -x "$sshd" ] || { echo "sshd not installed ($sshd; Debian: openssh-server)"; exit 1; }
mkdir -p "$dir" && chmod 700 "$dir"
port=$(free_port) down=$(free_port) user=$(id -un)
ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key" <<< y > /dev/null
ssh-keygen -q -t ed25519 -N '' -f "$dir/user_key" <<< y > /dev/null
cp "$dir/user_key.pub" "$dir/authorized_keys"
chmod 600 "$dir/authorized_keys"
# root's sshd wants its privilege separation directory
[ "$(id -u)" -ne 0 ] || mkdir -p /run/sshd
cat > "$dir/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $port
HostKey $dir/host_key
AuthorizedKeysFile $dir/authorized_keys
PidFile $dir/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
MaxStartups 100
MaxSessions 100
CONF
printf '[127.0.0.1]:%s %s\n' "$port" "$(cat "$dir/host_key.pub")" > "$dir/known_hosts"
cat > "$dir/ssh_config" <<CONF
Host node1 node2 down
  HostName 127.0.0.1
  User $user
  IdentityFile $dir/user_key
  IdentitiesOnly yes
  UserKnownHostsFile $dir/known_hosts
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 5
  LogLevel ERROR
Host node1 node2
  Port $port
Host down
  Port $down
CONF
"$sshd" -f "$dir/sshd_config" -E "$dir/sshd.log" ||
	{ echo "sshd does not start: $(tail -n 1 "$dir/sshd.log")"; exit 1; }
for _ in $(seq 50); do
	ssh -F "$dir/ssh_config" node1 true 2>/dev/null && exit 0
	sleep 0.1
done
echo "ssh to the test sshd fails: $(ssh -F "$dir/ssh_config" node1 true 2>&1 | tail -n 1)"
"$0" stop "$dir"
exit 1
