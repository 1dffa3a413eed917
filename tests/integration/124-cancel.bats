#!/usr/bin/env bats
# Cancel and stay responsive: a create whose client goes away is cancelled
# and rolled back; a delete cancels a create in progress instead of waiting
# for it; reads are answered while the start-up reconciliation runs.

load helpers

S=t124a

setup_file() {
	# One router at a time: a create of 12 routers takes seconds.
	start_daemon --parallel 1
}

teardown_file() {
	stop_daemon
}

teardown() {
	trellis -q slice delete "$S" >/dev/null 2>&1 || true
}

many_spec() {
	local n=$1 i
	{
		printf 'slice: %s\nrouters:\n' "$S"
		for i in $(seq "$n"); do printf '  r%s: {template: plain}\n' "$i"; done
		printf 'links:\n'
		for i in $(seq 2 "$n"); do
			printf '  - endpoints: [r%s:eth%s, r%s:eth1]\n    ipv4: [10.124.%s.1/24, 10.124.%s.2/24]\n' 1 "$i" "$i" "$i" "$i"
		done
	} >"$T_DIR/many.yaml"
	echo "$T_DIR/many.yaml"
}

state() { trellis --json slice list 2>/dev/null | jq -r ".slices[] | select(.name == \"$S\") | .state"; }
running_routers() { ls "$T_DIR/state/lxc" 2>/dev/null | grep -c "^$S\." || true; }
gone() { [ -z "$(state)" ] && ! slice_leftovers "$S" >/dev/null; }

@test "a create whose client goes away is cancelled and rolled back" {
	"$TRELLIS_BIN" --socket "$T_SOCK" slice create -f "$(many_spec 12)" >"$T_DIR/create.out" 2>&1 &
	client=$!
	wait_for 30 eval '[ "$(running_routers)" -ge 2 ]'
	# (a background job ignores SIGINT in a script: TERM, as a closed terminal would)
	kill -TERM "$client"
	wait "$client" || true
	# rolled back well before a full create would have ended
	wait_for 60 gone
	assert_no_leftovers "$S"
	grep -q 'cancelled: the client went away' "$T_DIR/trellisd.log"
}

@test "a delete cancels a create in progress" {
	"$TRELLIS_BIN" --socket "$T_SOCK" slice create -f "$(many_spec 12)" >"$T_DIR/create.out" 2>&1 &
	client=$!
	wait_for 30 eval '[ "$(running_routers)" -ge 2 ]'
	start=$(date +%s)
	run trellis slice delete "$S"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"cancelling the create"* ]]
	run wait "$client"
	cat "$T_DIR/create.out"
	[ "$status" -ne 0 ]
	grep -q 'cancelled: a delete of the slice came' "$T_DIR/create.out"
	assert_no_leftovers "$S"
	echo "delete took $(($(date +%s) - start)) s"
}

@test "reads are answered while the start-up reconciliation runs" {
	run trellis slice create -f "$(many_spec 8)"
	[ "$status" -eq 0 ]
	pid=$(cat "$T_DIR/trellisd.pid")
	kill -KILL "$pid"
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	# every router stopped: the reconciliation restarts them one by one
	for c in "$T_DIR/state/lxc/$S".*; do lxc-stop -P "$T_DIR/state/lxc" -n "$(basename "$c")" -k; done
	"$TRELLISD" --state-dir "$T_DIR/state" --socket "$T_SOCK" --node "$T_NODE" \
		--template-path "$TRELLIS_SRC/container-templates" $T_DAEMON_ARGS >>"$T_DIR/trellisd.log" 2>&1 3>&- &
	echo $! >"$T_DIR/trellisd.pid"
	disown $! 2>/dev/null || true
	seen=0
	for _ in $(seq 300); do
		if out=$(timeout 2 "$TRELLIS_BIN" --socket "$T_SOCK" --json node show 2>/dev/null); then
			if [ "$(echo "$out" | jq -r '.reconcile.running')" = true ]; then
				seen=1
				# a read during it is answered at once
				run timeout 2 "$TRELLIS_BIN" --socket "$T_SOCK" slice list
				[ "$status" -eq 0 ]
				[[ "$output" == *"$S"* ]]
				break
			fi
			[ "$(echo "$out" | jq -r '.reconcile.slices // empty')" = 1 ] && break
		fi
		sleep 0.05
	done
	[ "$seen" = 1 ]
	wait_reconciled
	[ "$(trellis --json slice show "$S" | jq -r '[.routers[].state] | unique | join(",")')" = running ]
}
