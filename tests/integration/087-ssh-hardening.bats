#!/usr/bin/env bats
# ssh login against a hostile slice user, with the real OpenSSH server: a
# slice account must run trellis-ssh whatever the client asks (sftp with
# `Subsystem sftp internal-sftp`, port or stdio forwarding), trellisd refuses
# ssh login where sshd's effective configuration would let it do otherwise,
# and removing a key ends the sessions that key opened.

load helpers
bats_require_minimum_version 1.5.0

SSHD=/usr/sbin/sshd

ssh_opts() {
	echo -F /dev/null -i "$1" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10
}

# ssh as slice $1 with key $2, then ssh's own options and the command.
ssh_slice() {
	local slice=$1 key=$2
	shift 2
	# shellcheck disable=SC2046
	ssh $(ssh_opts "$key") -p "$T_PORT" "$slice@127.0.0.1" "$@"
}

# sftp as slice $1 with key $2, running the batch on stdin.
sftp_slice() {
	# shellcheck disable=SC2046
	sftp $(ssh_opts "$2") -P "$T_PORT" -b - "$1@127.0.0.1"
}

# sshd_config: the common part, then $1 (the slice accounts' part).
write_sshd_config() {
	cat >"$T_RUN/sshd_config" <<EOS
ListenAddress 127.0.0.1
Port $T_PORT
HostKey $T_RUN/host_ed25519
PidFile $T_RUN/sshd.pid
UsePAM no
PermitRootLogin no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile none
AuthorizedKeysCommand $T_RUN/trellis-ssh keys --socket $T_SOCK %u
AuthorizedKeysCommandUser $KEYS
SetEnv TRELLIS_SOCKET=$T_SOCK
LogLevel VERBOSE
$1
EOS
	"$SSHD" -t -f "$T_RUN/sshd_config"
}

# The slice accounts' block as trellisd.conf(5) documents it.
MATCH_BLOCK='Subsystem sftp internal-sftp
Match Group GROUP
	ForceCommand SHELL
	ExposeAuthInfo yes
	DisableForwarding yes
	AllowTcpForwarding no
	AllowStreamLocalForwarding no
	AllowAgentForwarding no
	X11Forwarding no
	PermitTunnel no
	PermitUserRC no'

start_sshd() {
	"$SSHD" -D -e -f "$T_RUN/sshd_config" 2>>"$T_RUN/sshd.log" &
	echo $! >"$T_RUN/sshd.pid.bats"
	wait_for 10 eval "ss -Htln 'sport = :$T_PORT' | grep -q ."
}

stop_sshd() {
	local pid
	pid=$(cat "$T_RUN/sshd.pid.bats" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$T_RUN/sshd.pid.bats"
}

setup_file() {
	require_root
	[ -x "$SSHD" ] || skip "openssh-server not installed"
	command -v ssh >/dev/null && command -v sftp >/dev/null || skip "ssh/sftp client not installed"
	for s in t87a t87b; do
		if getent passwd "$s" >/dev/null; then
			skip "a user named '$s' exists already (a leftover of an earlier run?)"
		fi
	done
	export KEYS="t87k$$" GROUP="t87g$$"
	useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$KEYS"
	# sshd wants its commands (and the directories above) root-owned and not writable by others
	export T_RUN="/run/trellis-test-087-$$"
	mkdir -m 755 "$T_RUN"
	install -m 755 "$TRELLIS_BUILD/cli/trellis-ssh" "$T_RUN/trellis-ssh"
	ssh-keygen -q -t ed25519 -N '' -f "$T_RUN/host_ed25519"
	cat >"$T_RUN/trellisd.conf" <<EOS
ssh-login = yes
ssh-shell = $T_RUN/trellis-ssh
ssh-keys-user = $KEYS
ssh-group = $GROUP
sshd-config = $T_RUN/sshd_config
EOS
	if [ ! -d /run/sshd ]; then
		mkdir -m 755 /run/sshd # sshd's privilege separation directory
		touch "$T_RUN/made-run-sshd"
	fi
	start_daemon --config "$T_RUN/trellisd.conf"
	cat >"$T_DIR/t87a.yaml" <<EOS
slice: t87a
routers:
  r1: {template: plain}
EOS
	trellis -q slice create -f "$T_DIR/t87a.yaml" >/dev/null
	for k in ka kb; do
		ssh-keygen -q -t ed25519 -N '' -C "$k@test" -f "$T_DIR/$k"
		chmod 644 "$T_DIR/$k.pub"
	done
	T_PORT=
	for p in $(seq $((23000 + $$ % 150)) 23199); do
		if ! ss -Htln "sport = :$p" | grep -q .; then
			T_PORT=$p
			break
		fi
	done
	[ -n "$T_PORT" ]
	export T_PORT
	# the configuration trellis documented before: sftp's in-process server only
	write_sshd_config "Subsystem sftp internal-sftp"
	start_sshd
	# a host file only root can read, the target of the sftp attack
	echo "host-secret-087" >"$T_DIR/secret"
	chmod 644 "$T_DIR/secret"
}

teardown_file() {
	[ -n "${T_RUN:-}" ] && stop_sshd
	[ -n "${T_RUN:-}" ] && sed 's/^/# sshd: /' "$T_RUN/sshd.log" 2>/dev/null | tail -30 >&3 || true
	stop_daemon
	for s in t87a t87b; do
		if getent passwd "$s" | grep -q ":trellis slice $s:"; then
			echo "# leftover ssh account '$s'" >&3
			pkill -KILL -u "$s" 2>/dev/null || true
			userdel "$s" 2>/dev/null || true
		fi
	done
	[ -n "${KEYS:-}" ] && { userdel "$KEYS" 2>/dev/null || true; }
	[ -n "${GROUP:-}" ] && { groupdel "$GROUP" 2>/dev/null || true; }
	[ -f "${T_RUN:-/nonexistent}/made-run-sshd" ] && rmdir /run/sshd 2>/dev/null || true
	rm -f /tmp/t87-sftp-put
	rm -rf "${T_RUN:-/nonexistent-t87}"
}

# What a slice user tries over sftp; each line must fail.
sftp_attacks() {
	local key=$1
	run sftp_slice t87a "$key" <<<"ls /home"
	echo "ls: $status: $output"
	[ "$status" -ne 0 ]
	run sftp_slice t87a "$key" <<<"get /etc/passwd $T_DIR/got-passwd"
	[ "$status" -ne 0 ]
	[ ! -e "$T_DIR/got-passwd" ]
	run sftp_slice t87a "$key" <<<"get $T_DIR/state/trellis.db $T_DIR/got-db"
	[ "$status" -ne 0 ]
	[ ! -e "$T_DIR/got-db" ]
	run sftp_slice t87a "$key" <<<"get $T_DIR/secret $T_DIR/got-secret"
	[ "$status" -ne 0 ]
	[ ! -e "$T_DIR/got-secret" ]
	run sftp_slice t87a "$key" <<<"put $T_DIR/ka.pub /tmp/t87-sftp-put"
	[ "$status" -ne 0 ]
	[ ! -e /tmp/t87-sftp-put ]
}

@test "with only 'Subsystem sftp internal-sftp', trellisd refuses ssh login and names what is wrong" {
	run trellis slice key add t87a "$T_DIR/ka.pub"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"ssh login refused"* ]]
	[[ "$output" == *"ForceCommand is 'none' (must be '$T_RUN/trellis-ssh')"* ]]
	[[ "$output" == *"AllowTcpForwarding is 'yes' (must be 'no')"* ]]
	[[ "$output" == *"ExposeAuthInfo is 'no' (must be 'yes')"* ]]
	[[ "$output" == *"Match Group $GROUP"* ]]
	[ "$(trellis --json slice key list t87a | jq '.keys | length')" = 0 ]
	[ -z "$(getent passwd t87a)" ]
	# and the attack itself gets nowhere: the slice has no account sshd could open
	sftp_attacks "$T_DIR/ka"
}

@test "with the documented Match block: ssh login works and lands in the router" {
	write_sshd_config "${MATCH_BLOCK//GROUP/$GROUP}"
	sed -i "s|ForceCommand SHELL|ForceCommand $T_RUN/trellis-ssh|" "$T_RUN/sshd_config"
	stop_sshd
	start_sshd
	run trellis slice key add t87a "$T_DIR/ka.pub"
	echo "$output"
	[ "$status" -eq 0 ]
	trellis slice key add t87a "$T_DIR/kb.pub" >/dev/null
	[ "$(id -gn t87a)" = "$GROUP" ]
	run ssh_slice t87a "$T_DIR/ka" hostname
	[ "$status" -eq 0 ]
	[ "$output" = r1 ]
	run ssh_slice t87a "$T_DIR/ka" -tt hostname </dev/null
	[[ "$output" == r1* ]]
}

@test "sftp as a slice cannot list /home, fetch /etc/passwd or the state db, or write /tmp" {
	sftp_attacks "$T_DIR/ka"
}

@test "ssh forwarding as a slice is refused (-W, -L, -R)" {
	run ssh_slice t87a "$T_DIR/ka" -W "127.0.0.1:$T_PORT" </dev/null
	echo "-W: $status $output"
	[ "$status" -ne 0 ]
	[[ "$output" != *SSH-2.0* ]]
	lport=$((T_PORT + 300))
	ssh_slice t87a "$T_DIR/ka" -N -o ExitOnForwardFailure=yes -L "$lport:127.0.0.1:$T_PORT" \
		2>"$T_DIR/fwd-L.err" &
	fwd=$!
	wait_for 5 eval "ss -Htln 'sport = :$lport' | grep -q ."
	got=$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$lport; timeout 2 head -c 7 <&3" 2>/dev/null || true)
	kill "$fwd" 2>/dev/null || true
	wait "$fwd" 2>/dev/null || true
	echo "-L got: '$got'; $(cat "$T_DIR/fwd-L.err")"
	[ "$got" != SSH-2.0 ]
	run ssh_slice t87a "$T_DIR/ka" -N -o ExitOnForwardFailure=yes -R "$((T_PORT + 301)):127.0.0.1:$T_PORT" </dev/null
	echo "-R: $status $output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"forwarding failed"* ]]
}

@test "an account session that names no key is refused" {
	run runuser -u t87a -- "$TRELLIS_BIN" --socket "$T_SOCK" slice exec t87a r1 -- hostname
	[ "$status" -ne 0 ]
	[[ "$output" == *"which key opened it"* ]]
}

@test "removing a key ends the sessions it opened, within seconds; another key's session stays" {
	ssh_slice t87a "$T_DIR/ka" 'echo started; exec sleep 300' >"$T_DIR/a1.out" 2>&1 </dev/null &
	a1=$!
	ssh_slice t87a "$T_DIR/ka" -tt 'echo started; exec sleep 300' >"$T_DIR/a2.out" 2>&1 </dev/null &
	a2=$!
	ssh_slice t87a "$T_DIR/kb" 'echo started; exec sleep 300' >"$T_DIR/b1.out" 2>&1 </dev/null &
	b1=$!
	wait_for 15 grep -q started "$T_DIR/a1.out"
	wait_for 15 grep -q started "$T_DIR/a2.out"
	wait_for 15 grep -q started "$T_DIR/b1.out"
	[ "$(trellis slice exec t87a r1 -- pgrep -c -f '^sleep 300$')" = 3 ]
	trellis slice key remove t87a "$T_DIR/ka.pub"
	start=$(date +%s)
	wait_for 5 eval "! kill -0 $a1 2>/dev/null && ! kill -0 $a2 2>/dev/null"
	echo "ended after $(($(date +%s) - start)) s" >&3
	kill -0 "$b1"
	# in the router, only kb's command is left
	[ "$(trellis slice exec t87a r1 -- pgrep -c -f '^sleep 300$')" = 1 ]
	run ssh_slice t87a "$T_DIR/ka" hostname
	[ "$status" -eq 255 ]
	run ssh_slice t87a "$T_DIR/kb" hostname
	[ "$output" = r1 ]
	kill "$b1" 2>/dev/null || true
	wait "$a1" "$a2" "$b1" 2>/dev/null || true
}
