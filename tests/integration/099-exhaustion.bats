#!/usr/bin/env bats
# Resource exhaustion: a node out of subordinate uid ranges, or out of disk
# for its state directory, refuses a new slice up front with a clear error
# and leaves nothing behind; the slices it already has keep working.

load helpers

setup_file() {
	require_root
	# room for exactly one slice: index 0 of the range is never used
	local start
	start=$(awk -F: '$1 == "root" { print $2; exit }' /etc/subuid)
	start_daemon --uid-range "$start:131072"
}

teardown_file() {
	stop_daemon
}

teardown() {
	for s in t99a t99b; do trellis -q slice delete "$s" >/dev/null 2>&1 || true; done
	if [ -n "${SMALL_PID:-}" ]; then
		kill "$SMALL_PID" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$SMALL_PID" 2>/dev/null || break; sleep 0.1; done
	fi
	rm -rf "/sys/fs/bpf/trellis/t099small"
	mountpoint -q "$T_DIR/small" && umount "$T_DIR/small"
	rm -rf "$T_DIR/small"
}

spec() { # name
	printf 'slice: %s\nrouters:\n  r1: {template: plain}\n  r2: {template: plain}\nlinks:\n  - endpoints: [r1:eth1, r2:eth1]\n' \
		"$1" >"$T_DIR/$1.yaml"
	echo "$T_DIR/$1.yaml"
}

@test "out of uid ranges: the next create is refused naming the range, nothing left, the first slice runs on" {
	trellis -q slice create -f "$(spec t99a)"
	run trellis slice create -f "$(spec t99b)"
	[ "$status" -eq 9 ]
	[[ "$output" == *"out of subordinate uid ranges"*"holds 1 slices"* ]]
	assert_no_leftovers t99b
	[ "$(trellis --json slice show t99a | jq -r .state)" = ready ]
	trellis -q slice delete t99a
	# freed: the range is reused
	trellis -q slice create -f "$(spec t99b)"
}

@test "out of disk for the state directory: refused before anything is written" {
	mkdir -p "$T_DIR/small"
	chmod 711 "$T_DIR/small"
	mount -t tmpfs -o size=40m,mode=711 tmpfs "$T_DIR/small"
	"$TRELLISD" --state-dir "$T_DIR/small/state" --socket "$T_DIR/small/s.sock" --node t099small \
		--template-path "$TRELLIS_SRC/container-templates" >"$T_DIR/small.log" 2>&1 &
	SMALL_PID=$!
	wait_for 10 "$TRELLIS_BIN" --socket "$T_DIR/small/s.sock" node show
	run "$TRELLIS_BIN" --socket "$T_DIR/small/s.sock" slice create -f "$(spec t99a)"
	[ "$status" -eq 9 ]
	[[ "$output" == *"disk: "*"free on the file system of the state directory '$T_DIR/small/state'; 2 routers need 66M"* ]]
	[ -z "$(ls "$T_DIR/small/state/lxc" 2>/dev/null)" ]
	run ip link show t99a.r1.eth1
	[ "$status" -ne 0 ]
	[[ "$output" == *"does not exist"* ]]
}
