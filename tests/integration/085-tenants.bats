#!/usr/bin/env bats
# Tenants: trellisd.conf, access control at the socket (SO_PEERCRED), and
# slice login for a non-root owner (the daemon passes the pty master back),
# confined like the router.  Real users made here, driving the real CLI.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
	require_root
	command -v useradd >/dev/null || skip "useradd not installed"
	# Unique per run: t85a<pid> may create slices, t85b<pid> too, t85c<pid> may
	# not, t85d<pid> may as a member of group t85g<pid>.
	export U1="t85a$$" U2="t85b$$" U3="t85c$$" U4="t85d$$" G="t85g$$"
	groupadd "$G"
	for u in "$U1" "$U2" "$U3"; do
		useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u"
	done
	useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin -G "$G" "$U4"
	export T_CONF
	T_CONF=$(mktemp /tmp/trellis-test-085-conf.XXXXXX)
	cat >"$T_CONF" <<EOS
# tenants may create slices; only these two
allow-tenant-create = yes
tenant-users = $U1, $U2
tenant-groups = $G
parallel = 3
node = t85wrong
EOS
	chmod 644 "$T_CONF"
	start_daemon --config "$T_CONF"
	for n in a b c d; do
		cat >"$T_DIR/t85$n.yaml" <<EOS
slice: t85$n
routers:
  r1: {template: plain}
  r2: {template: plain}
links:
  - {endpoints: [r1:eth1, r2:eth1], ipv4: [10.85.0.1/30, 10.85.0.2/30]}
EOS
		chmod 644 "$T_DIR/t85$n.yaml"
	done
}

teardown_file() {
	tmux -L "t85-$$" kill-server 2>/dev/null || true
	stop_daemon
	rm -f "$T_CONF"
	for u in "${U1:-}" "${U2:-}" "${U3:-}" "${U4:-}"; do
		[ -n "$u" ] || continue
		for p in $(pgrep -u "$u" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
		userdel "$u" 2>/dev/null || true
	done
	[ -n "${G:-}" ] && groupdel "$G" 2>/dev/null || true
}

@test "trellisd.conf: errors name the file, the line and the key" {
	bad=$(mktemp /tmp/trellis-test-085-bad.XXXXXX)
	printf '# comment\n\nallow-tenant-create = yes\nparallel = 0\n' >"$bad"
	run "$TRELLISD" --config "$bad"
	[ "$status" -eq 2 ]
	[[ "$output" == *"$bad:4: parallel: '0' is not a number from 1 to 64"* ]]
	printf 'allow-tenant-crate = yes\n' >"$bad"
	run "$TRELLISD" --config "$bad"
	[ "$status" -eq 2 ]
	[[ "$output" == *"$bad:1: unknown key 'allow-tenant-crate' (did you mean 'allow-tenant-create'?)"* ]]
	printf 'allow-tenant-create = maybe\n' >"$bad"
	run "$TRELLISD" --config "$bad"
	[[ "$output" == *"$bad:1: allow-tenant-create: 'maybe' is not yes or no"* ]]
	printf 'node = n1\nnode = n2\n' >"$bad"
	run "$TRELLISD" --config "$bad"
	[[ "$output" == *"$bad:2: node: set again (first set on line 1)"* ]]
	printf 'just words\n' >"$bad"
	run "$TRELLISD" --config "$bad"
	[[ "$output" == *"$bad:1: 'just words' is not 'key = value'"* ]]
	printf 'tenant-users = Alice\n' >"$bad"
	run "$TRELLISD" --config "$bad"
	[[ "$output" == *"$bad:1: tenant-users: 'Alice' is not a user name"* ]]
	# the file decides who may create slices: only root may write it
	printf 'allow-tenant-create = yes\n' >"$bad"
	chmod 666 "$bad"
	run "$TRELLISD" --config "$bad"
	[ "$status" -eq 2 ]
	[[ "$output" == *"$bad: must be owned by root and writable by no one else (owner uid 0, mode 0666)"* ]]
	rm -f "$bad"
	run "$TRELLISD" --config /nonexistent/trellisd.conf
	[ "$status" -eq 2 ]
	[[ "$output" == *"cannot read '/nonexistent/trellisd.conf'"* ]]
}

@test "trellisd.conf: its values are defaults, the command line wins" {
	run trellis --json node show
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r .name)" = "$T_NODE" ]	# --node beat 'node = t85wrong'
	[ "$(echo "$output" | jq -r .parallel)" = 3 ]		# from the file
}

@test "a listed tenant creates a slice and owns it; an unlisted one is refused" {
	run as_user "$U1" -q slice create -f "$T_DIR/t85a.yaml"
	[ "$status" -eq 0 ]
	[ "$(trellis --json slice show t85a | jq -r .owner_uid)" = "$(id -u "$U1")" ]
	[ "$(trellis --json slice show t85a | jq -r .owner)" = "$U1" ]
	run as_user "$U3" slice create -f "$T_DIR/t85c.yaml"
	[ "$status" -eq 6 ]
	[[ "$output" == *"not among the tenants allowed to create slices"* ]]
	assert_no_leftovers t85c
	# a member of a listed group may
	run as_user "$U4" -q slice create -f "$T_DIR/t85d.yaml"
	[ "$status" -eq 0 ]
	[ "$(trellis --json slice show t85d | jq -r .owner)" = "$U4" ]
	run as_user "$U4" slice delete t85d
	[ "$status" -eq 0 ]
	assert_no_leftovers t85d
}

@test "a tenant cannot create a slice for someone else" {
	sed 's/^slice: t85b/slice: t85b\nowner: root/' "$T_DIR/t85b.yaml" >"$T_DIR/t85b-root.yaml"
	chmod 644 "$T_DIR/t85b-root.yaml"
	run as_user "$U2" slice create -f "$T_DIR/t85b-root.yaml"
	[ "$status" -eq 6 ]
	[[ "$output" == *"only root may create slices for another user"* ]]
	assert_no_leftovers t85b
	sed "s/^slice: t85b/slice: t85b\nowner: $U2/" "$T_DIR/t85b.yaml" >"$T_DIR/t85b-self.yaml"
	chmod 644 "$T_DIR/t85b-self.yaml"
	run as_user "$U2" -q slice create -f "$T_DIR/t85b-self.yaml"
	[ "$status" -eq 0 ]
}

@test "another tenant's slice is reported exactly as a missing one" {
	[ "$(as_user "$U2" --json slice list | jq -r '[.slices[].name] | join(",")')" = t85b ]
	[ "$(as_user "$U1" --json slice list | jq -r '[.slices[].name] | join(",")')" = t85a ]
	[ "$(trellis --json slice list | jq -r '[.slices[].name] | sort | join(",")')" = "t85a,t85b" ]
	for verb in show stats; do
		run as_user "$U2" slice "$verb" t85a
		theirs="$status $output"
		run as_user "$U2" slice "$verb" t85zz
		missing="$status $output"
		[ "${theirs//t85a/X}" = "${missing//t85zz/X}" ]
		[[ "$theirs" == "4 "*"no slice 't85a'"* ]]
	done
	run as_user "$U2" slice exec t85a r1 -- true
	[ "$status" -eq 4 ]
	[[ "$output" == *"no slice 't85a'"* ]]
	run as_user "$U2" slice key list t85a
	[ "$status" -eq 4 ]
	run as_user "$U2" slice delete t85a
	[ "$status" -eq 0 ]
	[[ "$output" == *"slice 't85a' did not exist"* ]]
	# still there, untouched
	[ "$(trellis --json slice show t85a | jq -r '.routers[0].state')" = running ]
	# a user that is not a tenant sees nothing either
	[ "$(as_user "$U3" --json slice list | jq '.slices | length')" = 0 ]
}

@test "the owner runs commands in its routers; they run as the router's root, not as the owner" {
	run as_user "$U1" slice exec t85a r1 -- sh -c 'echo $(id -u):$(hostname)'
	[ "$status" -eq 0 ]
	[ "$output" = "0:r1" ]
	echo hello | as_user "$U1" slice exec t85a r2 -- cat >"$T_DIR/cat.out"
	[ "$(cat "$T_DIR/cat.out")" = hello ]
	run as_user "$U1" slice exec t85a r1 -- ping -c1 -W2 10.85.0.2
	[ "$status" -eq 0 ]
}

# Host pid of the process whose pid inside router $2 of slice $1 is $3.
host_pid_of() {
	local init ns p
	init=$(trellis --json slice show "$1" | jq -r --arg r "$2" '.routers[] | select(.name == $r) | .pid')
	ns=$(readlink "/proc/$init/ns/pid")
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$ns" ] || continue
		if [ "$(awk '/^NSpid:/ {print $NF}' "$p/status" 2>/dev/null)" = "$3" ]; then
			basename "$p"
			return 0
		fi
	done
	return 1
}

@test "login as a non-root owner: a terminal from the daemon, confined like the router" {
	command -v tmux >/dev/null || skip "tmux not installed"
	sock="t85-$$"
	out="$T_DIR/login.out"
	rm -f "$out"
	tmux -L "$sock" new-session -d -x 100 -y 30 \
		"runuser -u $U1 -- $TRELLIS_BIN --socket $T_SOCK slice login t85a r1; echo EXIT=\$? >$out; sleep 60"
	wait_for 10 eval "tmux -L $sock capture-pane -p | grep -q 'root@r1'"
	tmux -L "$sock" send-keys 'echo SHELL_PID=$$ TTY=$(tty); stty size' Enter
	wait_for 10 eval "tmux -L $sock capture-pane -p | grep -q '^SHELL_PID='"
	screen=$(tmux -L "$sock" capture-pane -p)
	[[ "$screen" == *"30 100"* ]]
	[[ "$screen" == *"TTY=/dev/pts/"* ]]
	inner=$(echo "$screen" | sed -n 's/^SHELL_PID=\([0-9]*\).*/\1/p' | head -1)
	shell=$(host_pid_of t85a r1 "$inner")
	# The router's own workload: init's child (the template's boot command).
	init=$(trellis --json slice show t85a | jq -r '.routers[] | select(.name == "r1") | .pid')
	boot=$(pgrep -P "$init" | head -1)
	[ -n "$shell" ] && [ -n "$boot" ]
	# the client is the owner's process; the session is not
	client=$(pgrep -u "$U1" -f "slice login t85a r1" | head -1)
	[ -n "$client" ]
	[ "$(awk '/^Uid:/ {print $2}' "/proc/$shell/status")" = "$(awk '/^Uid:/ {print $2}' "/proc/$boot/status")" ]
	[ "$(awk '/^Uid:/ {print $2}' "/proc/$shell/status")" != "$(id -u "$U1")" ]
	for field in Seccomp Seccomp_filters NoNewPrivs CapInh CapPrm CapEff CapBnd CapAmb; do
		a=$(awk -v f="$field:" '$1 == f {print $2}' "/proc/$shell/status")
		b=$(awk -v f="$field:" '$1 == f {print $2}' "/proc/$boot/status")
		echo "$field: session $a router $b"
		[ -n "$a" ] && [ "$a" = "$b" ]
	done
	[ "$(awk '$1 == "Seccomp:" {print $2}' "/proc/$shell/status")" = 2 ]
	# the same cgroup in every hierarchy, or (cgroup2: LXC attaches into a
	# leaf '.lxc') a child of it, which the router's limits bound
	[ "$(wc -l <"/proc/$shell/cgroup")" = "$(wc -l <"/proc/$boot/cgroup")" ]
	paste -d' ' "/proc/$shell/cgroup" "/proc/$boot/cgroup" | while read -r mine theirs; do
		echo "cgroup: session $mine router $theirs"
		[ "${mine%%:/*}" = "${theirs%%:/*}" ]
		[ "$mine" = "$theirs" ] || [[ "$mine" == "$theirs/"* ]]
		[[ "$theirs" == *"/t85a/r1"* ]]
	done
	for ns in mnt net pid user uts ipc cgroup; do
		[ "$(readlink "/proc/$shell/ns/$ns")" = "$(readlink "/proc/$boot/ns/$ns")" ]
		[ "$(readlink "/proc/$shell/ns/$ns")" != "$(readlink "/proc/$client/ns/$ns")" ] || [ "$ns" = cgroup ]
	done
	# the pty the client holds is the router's, opened by the daemon
	ls -l "/proc/$client/fd" | grep -q ptmx
	tmux -L "$sock" send-keys 'exit 3' Enter
	wait_for 10 test -s "$out"
	tmux -L "$sock" kill-server
	[ "$(cat "$out")" = "EXIT=3" ]
	# the session is gone with its terminal
	[ ! -e "/proc/$shell" ]
}

@test "login as another tenant is refused as if the slice did not exist" {
	command -v tmux >/dev/null || skip "tmux not installed"
	sock="t85-$$"
	out="$T_DIR/login2.out"
	rm -f "$out"
	tmux -L "$sock" new-session -d -x 100 -y 30 \
		"runuser -u $U2 -- $TRELLIS_BIN --socket $T_SOCK slice login t85a r1 2>$out.err; echo EXIT=\$? >$out; sleep 60"
	wait_for 10 test -s "$out"
	tmux -L "$sock" kill-server
	[ "$(cat "$out")" = "EXIT=4" ]
	grep -q "no slice 't85a'" "$out.err"
}

@test "closing the client's terminal hangs up the session in the router" {
	command -v tmux >/dev/null || skip "tmux not installed"
	sock="t85-$$"
	tmux -L "$sock" new-session -d -x 100 -y 30 \
		"runuser -u $U1 -- $TRELLIS_BIN --socket $T_SOCK slice login t85a r2"
	wait_for 10 eval "tmux -L $sock capture-pane -p | grep -q 'root@r2'"
	tmux -L "$sock" send-keys 'echo SHELL_PID=$$' Enter
	wait_for 10 eval "tmux -L $sock capture-pane -p | grep -q '^SHELL_PID='"
	inner=$(tmux -L "$sock" capture-pane -p | sed -n 's/^SHELL_PID=\([0-9]*\).*/\1/p' | head -1)
	shell=$(host_pid_of t85a r2 "$inner")
	[ -n "$shell" ]
	tmux -L "$sock" kill-server
	wait_for 10 eval "! kill -0 $shell 2>/dev/null"
}

@test "the owner deletes its slice; nothing is left" {
	run as_user "$U2" slice delete t85b
	[ "$status" -eq 0 ]
	[[ "$output" == *"slice 't85b' deleted"* ]]
	assert_no_leftovers t85b
	run as_user "$U1" slice delete t85a
	[ "$status" -eq 0 ]
	assert_no_leftovers t85a
}
