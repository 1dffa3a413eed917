#!/usr/bin/env bats
# Remote login, PlanetLab-style: `ssh SLICE@host [ROUTER] [COMMAND]` with the
# real OpenSSH server (its own config, host key and loopback port, started
# here) and client.  Keys are registered per slice (trellis slice key); sshd
# asks trellis-ssh (AuthorizedKeysCommand) for them; the slice's ssh account
# (made by trellisd) has trellis-ssh as its shell.

load helpers
bats_require_minimum_version 1.5.0

SSHD=/usr/sbin/sshd

# ssh as slice $1 with key $2, then the remote command.
ssh_slice() {
	local slice=$1 key=$2
	shift 2
	ssh -F /dev/null -p "$T_PORT" -i "$key" -o IdentitiesOnly=yes -o BatchMode=yes \
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
		-o ConnectTimeout=10 "$slice@127.0.0.1" "$@"
}


setup_file() {
	require_root
	[ -x "$SSHD" ] || skip "openssh-server not installed (scripts/install-deps.sh)"
	command -v ssh >/dev/null || skip "ssh client not installed"
	for s in t86a t86b; do
		if getent passwd "$s" >/dev/null; then
			skip "a user named '$s' exists already (a leftover of an earlier run?)"
		fi
	done
	export OWNER="t86o$$" KEYS="t86k$$" GROUP="t86g$$"
	useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$OWNER"
	useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$KEYS"
	# sshd runs its AuthorizedKeysCommand only from a root-owned path no one
	# else can write, up to /: not from the build tree under /tmp.
	export T_RUN="/run/trellis-test-086-$$"
	mkdir -m 755 "$T_RUN"
	install -m 755 "$TRELLIS_BUILD/cli/trellis-ssh" "$T_RUN/trellis-ssh"
	T_CONF=$(mktemp /tmp/trellis-test-086-conf.XXXXXX)
	export T_CONF
	cat >"$T_CONF" <<EOS
ssh-login = yes
ssh-shell = $T_RUN/trellis-ssh
ssh-keys-user = $KEYS
ssh-group = $GROUP
sshd-config = $T_RUN/sshd_config
EOS
	start_daemon --config "$T_CONF"
	cat >"$T_DIR/t86a.yaml" <<EOS
slice: t86a
owner: $OWNER
routers:
  r1: {template: plain}
  r2: {template: plain}
links:
  - {endpoints: [r1:eth1, r2:eth1], ipv4: [10.86.0.1/30, 10.86.0.2/30]}
EOS
	cat >"$T_DIR/t86b.yaml" <<EOS
slice: t86b
owner: $OWNER
routers:
  b1: {template: plain}
EOS
	trellis -q slice create -f "$T_DIR/t86a.yaml" >/dev/null
	trellis -q slice create -f "$T_DIR/t86b.yaml" >/dev/null
	for k in ka kb kc; do
		ssh-keygen -q -t ed25519 -N '' -C "$k@test" -f "$T_DIR/$k"
		chmod 644 "$T_DIR/$k.pub"
	done
	# sshd of our own: loopback, a free port, its own host key and config.
	mkdir -m 700 "$T_DIR/sshd"
	ssh-keygen -q -t ed25519 -N '' -f "$T_DIR/sshd/host_ed25519"
	T_PORT=
	for p in $(seq $((22800 + $$ % 150)) 22999); do
		if ! ss -Htln "sport = :$p" | grep -q .; then
			T_PORT=$p
			break
		fi
	done
	[ -n "$T_PORT" ]
	export T_PORT
	# the slice accounts' Match block as trellisd.conf(5) documents it
	cat >"$T_RUN/sshd_config" <<EOS
ListenAddress 127.0.0.1
Port $T_PORT
HostKey $T_DIR/sshd/host_ed25519
PidFile $T_DIR/sshd/sshd.pid
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
Match Group $GROUP
	ForceCommand $T_RUN/trellis-ssh
	ExposeAuthInfo yes
	DisableForwarding yes
	PermitTunnel no
	PermitUserRC no
EOS
	if [ ! -d /run/sshd ]; then
		mkdir -m 755 /run/sshd # sshd's privilege separation directory
		touch "$T_DIR/sshd/made-run-sshd"
	fi
	"$SSHD" -t -f "$T_RUN/sshd_config"
	"$SSHD" -D -e -f "$T_RUN/sshd_config" 2>"$T_DIR/sshd/log" &
	echo $! >"$T_DIR/sshd/pid"
	wait_for 10 eval "ss -Htln 'sport = :$T_PORT' | grep -q ."
}

teardown_file() {
	tmux -L "t86-$$" kill-server 2>/dev/null || true
	if [ -n "${T_DIR:-}" ] && [ -f "$T_DIR/sshd/pid" ]; then
		pid=$(cat "$T_DIR/sshd/pid")
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		[ -f "$T_DIR/sshd/made-run-sshd" ] && rmdir /run/sshd 2>/dev/null || true
		sed 's/^/# sshd: /' "$T_DIR/sshd/log" | tail -40 >&3 || true
	fi
	stop_daemon
	# trellisd removes the slices' accounts with the slices; make sure
	for s in t86a t86b; do
		if getent passwd "$s" | grep -q ":trellis slice $s:"; then
			echo "# leftover ssh account '$s'" >&3
			userdel "$s" 2>/dev/null || true
		fi
	done
	[ -n "${GROUP:-}" ] && { groupdel "$GROUP" 2>/dev/null || true; }
	for u in "${OWNER:-}" "${KEYS:-}"; do
		[ -n "$u" ] || continue
		for p in $(pgrep -u "$u" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
		userdel "$u" 2>/dev/null || true
	done
	rm -rf "${T_RUN:-/nonexistent-t86}" "${T_CONF:-/nonexistent-t86}"
}

@test "keys: the owner registers a key; trellisd makes the slice's ssh account" {
	run as_user "$OWNER" slice key add t86a "$T_DIR/ka.pub"
	[ "$status" -eq 0 ]
	[[ "$output" == *"slice 't86a': ssh key ssh-ed25519 "*" added"* ]]
	entry=$(getent passwd t86a)
	[[ "$entry" == *":trellis slice t86a:/:$T_RUN/trellis-ssh" ]]
	[ "$(as_user "$OWNER" --json slice key list t86a | jq -r '.keys[0].comment')" = ka@test ]
	[ "$(as_user "$OWNER" --json slice key list t86a | jq -r '.account')" = t86a ]
	# the same key again is refused
	run as_user "$OWNER" slice key add t86a "$T_DIR/ka.pub"
	[ "$status" -eq 5 ]
	run trellis slice key add t86b "$T_DIR/kb.pub"	# root may too
	[ "$status" -eq 0 ]
}

@test "keys: options, bad key data and foreign callers are refused" {
	printf 'command="/bin/sh" %s\n' "$(cat "$T_DIR/kc.pub")" >"$T_DIR/opt.pub"
	chmod 644 "$T_DIR/opt.pub"
	run trellis slice key add t86a "$T_DIR/opt.pub"
	[ "$status" -eq 3 ]
	[[ "$output" == *"options such as command= are not accepted"* ]]
	echo "ssh-ed25519 AAAAC3NzaC1yc2EAAAADAQAB x" >"$T_DIR/bad.pub"
	run trellis slice key add t86a "$T_DIR/bad.pub"
	[ "$status" -eq 3 ]
	[[ "$output" == *"not a 'ssh-ed25519' key"* ]]
	printf '%s\nrestrict %s\n' "$(cut -d' ' -f1-2 "$T_DIR/kc.pub") a" "$(cat "$T_DIR/kc.pub")" >"$T_DIR/two.pub"
	run trellis slice key add t86a "$T_DIR/two.pub"
	[ "$status" -eq 3 ]
	# only the ssh-keys-user (and root) reads keys for sshd
	run runuser -u "$OWNER" -- "$T_RUN/trellis-ssh" keys --socket "$T_SOCK" t86a
	[ "$status" -eq 6 ]
	run runuser -u "$KEYS" -- "$T_RUN/trellis-ssh" keys --socket "$T_SOCK" t86a
	[ "$status" -eq 0 ]
	[ "$output" = "restrict,pty $(cat "$T_DIR/ka.pub")" ]
	# no keys for users that are not slices with an account
	for u in root nobody t86zz "$OWNER"; do
		run runuser -u "$KEYS" -- "$T_RUN/trellis-ssh" keys --socket "$T_SOCK" "$u"
		[ "$status" -eq 0 ]
		[ -z "$output" ]
	done
}

@test "ssh SLICE@host ROUTER CMD runs CMD in that router; the default is the first router" {
	run ssh_slice t86a "$T_DIR/ka" r1 hostname
	[ "$status" -eq 0 ]
	[ "$output" = r1 ]
	run ssh_slice t86a "$T_DIR/ka" r2 'hostname; ip -o -4 addr show eth1 | grep -o 10.86.0.2'
	[ "$status" -eq 0 ]
	[ "$output" = "r2
10.86.0.2" ]
	run ssh_slice t86a "$T_DIR/ka" hostname
	[ "$output" = r1 ]
	run ssh_slice t86a "$T_DIR/ka" r2 'exit 7'
	[ "$status" -eq 7 ]
	[ "$(echo through-ssh | ssh_slice t86a "$T_DIR/ka" r2 cat)" = through-ssh ]
	run ssh_slice t86a "$T_DIR/ka" r1 'id -u; cat /proc/self/status | grep ^Seccomp:'
	[[ "$output" == "0"*"Seccomp:	2"* ]]
}

@test "an unregistered key is refused" {
	run ssh_slice t86a "$T_DIR/kc" r1 hostname
	[ "$status" -eq 255 ]
	[[ "$output" == *"Permission denied (publickey)"* ]]
}

@test "a key registered for slice A does not open slice B" {
	run ssh_slice t86b "$T_DIR/ka" b1 hostname
	[ "$status" -eq 255 ]
	[[ "$output" == *"Permission denied"* ]]
	run ssh_slice t86a "$T_DIR/kb" r1 hostname
	[ "$status" -eq 255 ]
	run ssh_slice t86b "$T_DIR/kb" hostname
	[ "$status" -eq 0 ]
	[ "$output" = b1 ]
}

@test "a slice's ssh account may log into its slice only, and change nothing" {
	run runuser -u t86a -- "$TRELLIS_BIN" --socket "$T_SOCK" slice exec t86b b1 -- true
	[ "$status" -eq 4 ]
	[[ "$output" == *"no slice 't86b'"* ]]
	run runuser -u t86a -- "$TRELLIS_BIN" --socket "$T_SOCK" slice key add t86a "$T_DIR/kc.pub"
	[ "$status" -eq 4 ]
	run runuser -u t86a -- "$TRELLIS_BIN" --socket "$T_SOCK" slice delete t86a
	[[ "$output" == *"did not exist"* ]]
	trellis slice show t86a >/dev/null
	run runuser -u t86a -- "$TRELLIS_BIN" --socket "$T_SOCK" slice create -f "$T_DIR/t86a.yaml"
	[ "$status" -eq 6 ]
	# only as an ssh session that names its key (trellis-ssh under sshd)
	run runuser -u t86a -- "$TRELLIS_BIN" --socket "$T_SOCK" slice exec t86a r1 -- hostname
	[ "$status" -eq 6 ]
	[[ "$output" == *"which key opened it"* ]]
}

@test "an interactive ssh login lands in a router shell on a terminal" {
	command -v tmux >/dev/null || skip "tmux not installed"
	sock="t86-$$"
	out="$T_DIR/ssh-login.out"
	tmux -L "$sock" new-session -d -x 100 -y 30 \
		"ssh -F /dev/null -t -p $T_PORT -i $T_DIR/ka -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR t86a@127.0.0.1 r2; echo EXIT=\$? >$out; sleep 60"
	wait_for 15 eval "tmux -L $sock capture-pane -p | grep -q 'root@r2'"
	tmux -L "$sock" send-keys 'echo HOST=$(hostname) TTY=$(tty); stty size' Enter
	wait_for 10 eval "tmux -L $sock capture-pane -p | grep -q '^HOST='"
	screen=$(tmux -L "$sock" capture-pane -p)
	tmux -L "$sock" send-keys 'exit 4' Enter
	wait_for 10 test -s "$out"
	tmux -L "$sock" kill-server
	[[ "$screen" == *"HOST=r2 TTY=/dev/pts/"* ]]
	[[ "$screen" == *"30 100"* ]]
	[ "$(cat "$out")" = "EXIT=4" ]
}

@test "a removed key no longer logs in and its sessions end; deleting the slice ends its sessions and removes its account" {
	ssh_slice t86a "$T_DIR/ka" r1 'echo started; exec sleep 300' >"$T_DIR/long.out" 2>&1 &
	long=$!
	wait_for 10 grep -q started "$T_DIR/long.out"
	run as_user "$OWNER" slice key remove t86a "$T_DIR/ka.pub"
	[ "$status" -eq 0 ]
	wait_for 10 eval "! kill -0 $long 2>/dev/null"
	wait "$long" || true
	run ssh_slice t86a "$T_DIR/ka" r1 hostname
	[ "$status" -eq 255 ]
	[ "$(as_user "$OWNER" --json slice key list t86a | jq '.keys | length')" = 0 ]
	# a session of another key, ended by the slice's deletion
	as_user "$OWNER" slice key add t86a "$T_DIR/kc.pub" >/dev/null
	ssh_slice t86a "$T_DIR/kc" r1 'echo started; exec sleep 300' >"$T_DIR/long.out" 2>&1 &
	long=$!
	wait_for 10 grep -q started "$T_DIR/long.out"
	kill -0 "$long"
	pgrep -u t86a >/dev/null
	run as_user "$OWNER" slice delete t86a
	[ "$status" -eq 0 ]
	# the session ended with the slice, and nothing runs as the account
	wait_for 10 eval "! kill -0 $long 2>/dev/null"
	wait "$long" || true
	[ -z "$(getent passwd t86a)" ]
	assert_no_leftovers t86a
	[ "$(sqlite3 "$T_DIR/state/trellis.db" "SELECT COUNT(*) FROM ssh_keys WHERE slice = 't86a'")" = 0 ]
	[ "$(sqlite3 "$T_DIR/state/trellis.db" "SELECT COUNT(*) FROM ssh_accounts WHERE slice = 't86a'")" = 0 ]
}
