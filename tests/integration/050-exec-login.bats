#!/usr/bin/env bats
# slice exec and slice login: stdio, exit codes, terminals, confinement of
# attached processes.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
	start_daemon
	cat >"$T_DIR/t50a.yaml" <<EOS
slice: t50a
routers:
  r1:
    loopback: [10.255.0.1/32]
    config: |
      router ospf
       network 10.255.0.0/16 area 0
  r2: {template: plain}
EOS
	trellis -q slice create -f "$T_DIR/t50a.yaml" >/dev/null
}

teardown_file() {
	tmux -L "t50-$$" kill-server 2>/dev/null || true
	stop_daemon
}

@test "exec: stdout, stderr, exit status and stdin pass through" {
	run trellis slice exec t50a r2 -- sh -c 'echo out; echo err >&2; exit 7'
	[ "$status" -eq 7 ]
	[[ "$output" == *out* ]]
	[[ "$output" == *err* ]]
	result=$(echo "from-stdin" | trellis slice exec t50a r2 -- cat)
	[ "$result" = from-stdin ]
	err=$(trellis slice exec t50a r2 -- sh -c 'echo only-err >&2' 2>&1 >/dev/null)
	[ "$err" = only-err ]
}

@test "exec: a missing command is 127, a signal is 128+N" {
	run -127 trellis slice exec t50a r2 -- /no/such/command
	run trellis slice exec t50a r2 -- sh -c 'kill -TERM $$'
	[ "$status" -eq 143 ]
}

@test "exec: unknown slice or router, and a missing command, are clear errors" {
	run trellis slice exec t50nope r1 -- true
	[ "$status" -eq 4 ]
	run trellis slice exec t50a r9 -- true
	[ "$status" -eq 4 ]
	[[ "$output" == *"no router 'r9'"* ]]
	run trellis slice exec t50a r1
	[ "$status" -eq 2 ]
}

@test "exec: attached processes get the router's seccomp filter, capabilities and cgroup" {
	pid=$(trellis --json slice show t50a | jq -r '.routers[] | select(.name == "r1") | .pid')
	inside=$(trellis slice exec t50a r1 -- sh -c 'grep -E "^(Seccomp|CapBnd):" /proc/self/status')
	[[ "$inside" == *"Seccomp:	2"* ]]
	[ "$(echo "$inside" | awk '/CapBnd/ {print $2}')" = "$(awk '/CapBnd/ {print $2}' /proc/$pid/status)" ]
	# the attached shell sits in the router's own cgroup
	trellis slice exec t50a r1 -- sleep 3 &
	sleep 1
	found=0
	for p in $(cat /sys/fs/cgroup/pids/trellis/$T_NODE/t50a/r1/cgroup.procs 2>/dev/null || cat /sys/fs/cgroup/trellis/$T_NODE/t50a/r1/cgroup.procs); do
		[ "$(cat /proc/$p/comm 2>/dev/null)" = sleep ] && [ "$(cat /proc/$p/cmdline | tr '\0' ' ')" = "sleep 3 " ] && found=1
	done
	wait
	[ "$found" = 1 ]
}

@test "vtysh works inside an FRR router" {
	wait_for 30 trellis slice exec t50a r1 -- vtysh -c 'show version'
	run trellis slice exec t50a r1 -- vtysh -c 'show running-config'
	[ "$status" -eq 0 ]
	[[ "$output" == *"hostname r1"* ]]
	[[ "$output" == *"router ospf"* ]]
}

@test "login: an interactive shell on a terminal, with job control and its exit status" {
	command -v tmux >/dev/null || skip "tmux not installed"
	sock="t50-$$"
	out="$T_DIR/login.out"
	tmux -L "$sock" new-session -d -x 120 -y 40 \
		"$TRELLIS_BIN --socket $T_SOCK slice login t50a r1; echo EXIT=\$? >$out; sleep 30"
	wait_for 10 eval "tmux -L $sock capture-pane -p | grep -q 'root@r1'"
	tmux -L "$sock" send-keys 'echo HOST=$(hostname) TTY=$(tty); stty size' Enter
	tmux -L "$sock" send-keys 'sleep 100' Enter
	sleep 0.5
	tmux -L "$sock" send-keys C-c
	tmux -L "$sock" send-keys 'exit 5' Enter
	wait_for 10 test -s "$out"
	screen=$(tmux -L "$sock" capture-pane -p)
	tmux -L "$sock" kill-server
	[[ "$screen" == *"HOST=r1 TTY=/dev/pts/"* ]]
	[[ "$screen" == *"40 120"* ]]
	[[ "$screen" == *"^C"* ]]
	[ "$(cat "$out")" = "EXIT=5" ]
}

@test "login without a terminal is refused with a hint" {
	run trellis slice login t50a r1 </dev/null
	[ "$status" -eq 2 ]
	[[ "$output" == *"needs a terminal"* ]]
}
