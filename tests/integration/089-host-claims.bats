#!/usr/bin/env bats
# Two trellisd on one host: what must be each daemon's alone (the node name,
# which names the bpffs pin directory and the cgroup subtree, and each slice's
# uid range) is claimed host-wide under /run/trellis/claims.  Before this, a
# second daemon on the same node name (the default: the host name) shared the
# first's pins, and stopping it removed them while the first's slice ran; and
# both daemons handed out the same uid ranges.

load helpers

setup_file() {
	start_daemon
	# A second daemon, default uid range like the first.
	B_DIR=$(mktemp -d /tmp/trellis-test-089b.XXXXXX)
	chmod 711 "$B_DIR"
	B_SOCK="$B_DIR/s.sock"
	B_NODE="t89b-$$"
	export B_DIR B_SOCK B_NODE
	"$TRELLISD" --state-dir "$B_DIR/state" --socket "$B_SOCK" --node "$B_NODE" \
		--template-path "$TRELLIS_SRC/container-templates" >"$B_DIR/log" 2>&1 &
	echo $! >"$B_DIR/pid"
	wait_for 10 "$TRELLIS_BIN" --socket "$B_SOCK" node show
}

teardown_file() {
	local s pid
	if [ -n "${B_DIR:-}" ] && [ -d "$B_DIR" ]; then
		for s in $("$TRELLIS_BIN" --socket "$B_SOCK" --json slice list 2>/dev/null | jq -r '.slices[].name' 2>/dev/null); do
			"$TRELLIS_BIN" --socket "$B_SOCK" -q slice delete "$s" >/dev/null 2>&1 || true
		done
		pid=$(cat "$B_DIR/pid" 2>/dev/null || true)
		[ -n "$pid" ] && kill "$pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		rm -rf "$B_DIR" "/sys/fs/bpf/trellis/$B_NODE"
	fi
	stop_daemon
}

tb() { "$TRELLIS_BIN" --socket "$B_SOCK" "$@"; }

one_router() {
	local f="$T_DIR/$1.yaml"
	printf 'slice: %s\nrouters:\n  r1: {template: plain}\n' "$1" >"$f"
	echo "$f"
}

@test "a second daemon on a live daemon's node name is refused, naming it, and leaves its pins alone" {
	f=$(one_router t89a)
	trellis slice create -f "$f" >/dev/null
	[ -d "/sys/fs/bpf/trellis/$T_NODE" ]
	pins_before=$(ls "/sys/fs/bpf/trellis/$T_NODE" | wc -l)
	other=$(mktemp -d /tmp/trellis-test-089c.XXXXXX)
	chmod 711 "$other"
	run timeout 20 "$TRELLISD" --state-dir "$other/state" --socket "$other/s.sock" --node "$T_NODE" \
		--template-path "$TRELLIS_SRC/container-templates"
	rm -rf "$other"
	[ "$status" -eq 1 ]
	[[ "$output" == *"node name '$T_NODE' is held by a live trellisd (pid $(cat "$T_DIR/trellisd.pid"), state dir $T_DIR/state)"* ]]
	[[ "$output" == *"--node"* ]]
	# the first daemon's fast path and slice are untouched
	[ "$(ls "/sys/fs/bpf/trellis/$T_NODE" | wc -l)" -eq "$pins_before" ]
	run trellis --json slice show t89a
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r '.routers[0].state')" = running ]
	trellis -q slice delete t89a
	assert_no_leftovers t89a
}

@test "the node name is free again after its daemon stops" {
	other=$(mktemp -d /tmp/trellis-test-089d.XXXXXX)
	chmod 711 "$other"
	node="t89d-$$"
	# a lock file left by a daemon killed without a clean stop: nobody holds it
	echo "pid 1, state dir /nonexistent" >"/run/trellis/claims/nodes/t89s-$$.lock"
	"$TRELLISD" --state-dir "$other/state" --socket "$other/s.sock" --node "$node" >"$other/log" 2>&1 &
	pid=$!
	wait_for 10 "$TRELLIS_BIN" --socket "$other/s.sock" node show
	[ -e "/run/trellis/claims/nodes/$node.lock" ]
	# the starting daemon removed the stale one, and kept the live ones
	run test -e "/run/trellis/claims/nodes/t89s-$$.lock"
	rm -f "/run/trellis/claims/nodes/t89s-$$.lock"
	[ "$status" -ne 0 ]
	[ -e "/run/trellis/claims/nodes/$T_NODE.lock" ]
	[ -e "/run/trellis/claims/nodes/$B_NODE.lock" ]
	kill "$pid"
	wait "$pid" || true
	# a clean stop gives the name up (no lock file left behind)
	run test -e "/run/trellis/claims/nodes/$node.lock"
	[ "$status" -ne 0 ]
	"$TRELLISD" --state-dir "$other/state" --socket "$other/s.sock" --node "$node" >>"$other/log" 2>&1 &
	pid=$!
	run wait_for 10 "$TRELLIS_BIN" --socket "$other/s.sock" node show
	kill "$pid"
	wait "$pid" || true
	rm -rf "$other" "/sys/fs/bpf/trellis/$node"
	[ "$status" -eq 0 ]
}

@test "two daemons with the same default uid range give their slices disjoint ranges" {
	f=$(one_router t89e)
	trellis slice create -f "$f" >/dev/null
	tb slice create -f "$f" >/dev/null	# the same name on the other daemon: another slice
	g=$(one_router t89f)
	tb slice create -f "$g" >/dev/null
	a=$(trellis --json slice show t89e | jq -r .uid_base)
	b=$(tb --json slice show t89e | jq -r .uid_base)
	c=$(tb --json slice show t89f | jq -r .uid_base)
	echo "uid bases: $a $b $c"
	[ "$a" != "$b" ] && [ "$a" != "$c" ] && [ "$b" != "$c" ]
	for x in $a $b $c; do
		[ $(( x % 65536 )) -eq $(( a % 65536 )) ]
	done
	# the routers really run under those ranges
	pa=$(trellis --json slice show t89e | jq -r '.routers[0].pid')
	pb=$(tb --json slice show t89e | jq -r '.routers[0].pid')
	[ "$(awk '{print $2}' /proc/"$pa"/uid_map)" = "$a" ]
	[ "$(awk '{print $2}' /proc/"$pb"/uid_map)" = "$b" ]
	# each claim names its holder
	grep -q "^t89e 0 $T_DIR/state " "/run/trellis/claims/uids/$a/$T_NODE"
	grep -q "^t89e 0 $B_DIR/state " "/run/trellis/claims/uids/$b/$B_NODE"
	trellis -q slice delete t89e
	tb -q slice delete t89e
	tb -q slice delete t89f
	# deleting releases the claims
	run ls "/run/trellis/claims/uids/$a/$T_NODE" "/run/trellis/claims/uids/$b/$B_NODE" "/run/trellis/claims/uids/$c/$B_NODE"
	[ "$status" -ne 0 ]
	assert_no_leftovers t89e
}

@test "a killed daemon keeps its slices' ranges; a claim whose state dir is gone is free" {
	f=$(one_router t89g)
	tb slice create -f "$f" >/dev/null
	b=$(tb --json slice show t89g | jq -r .uid_base)
	# killed: its router keeps running with those ids, so the range stays held
	kill -9 "$(cat "$B_DIR/pid")"
	sleep 0.5
	h=$(one_router t89h)
	trellis slice create -f "$h" >/dev/null
	a=$(trellis --json slice show t89h | jq -r .uid_base)
	[ "$a" != "$b" ]
	trellis -q slice delete t89h
	# back: it re-adopts the slice and still holds the range
	"$TRELLISD" --state-dir "$B_DIR/state" --socket "$B_SOCK" --node "$B_NODE" \
		--template-path "$TRELLIS_SRC/container-templates" >>"$B_DIR/log" 2>&1 &
	echo $! >"$B_DIR/pid"
	wait_for 10 "$TRELLIS_BIN" --socket "$B_SOCK" node show
	[ -e "/run/trellis/claims/uids/$b/$B_NODE" ]
	tb -q slice delete t89g
	# the range the next create takes here ...
	trellis slice create -f "$h" >/dev/null
	a=$(trellis --json slice show t89h | jq -r .uid_base)
	trellis -q slice delete t89h
	mkdir -p "/run/trellis/claims/uids/$a"
	# ... held by a live daemon's slice (its state dir exists): skipped
	echo "t89z 0 $B_DIR/state 0" >"/run/trellis/claims/uids/$a/t89z-$$"
	trellis slice create -f "$h" >/dev/null
	a2=$(trellis --json slice show t89h | jq -r .uid_base)
	trellis -q slice delete t89h
	# ... left by a daemon whose state directory is gone: stale, taken
	echo "t89z 0 /nonexistent/t89z-$$ 0" >"/run/trellis/claims/uids/$a/t89z-$$"
	trellis slice create -f "$h" >/dev/null
	a3=$(trellis --json slice show t89h | jq -r .uid_base)
	# ... and removed while the range was looked at
	run test -e "/run/trellis/claims/uids/$a/t89z-$$"
	stale_left=$status
	rm -f "/run/trellis/claims/uids/$a/t89z-$$"
	rmdir "/run/trellis/claims/uids/$a" 2>/dev/null || true
	trellis -q slice delete t89h
	echo "free: $a, beside a live claim: $a2, beside a stale claim: $a3"
	[ "$a2" != "$a" ]
	[ "$a3" = "$a" ]
	[ "$stale_left" -ne 0 ]
	assert_no_leftovers t89h
	assert_no_leftovers t89g
}
