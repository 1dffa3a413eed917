#!/usr/bin/env bats
# The CLI and the daemon as programs: help, versions, options, exit codes,
# sockets, several instances, callers that are not root.

load helpers

setup_file() {
	start_daemon
}

teardown_file() {
	stop_daemon
}

@test "trellis --help at every level, and --version" {
	run "$TRELLIS_BIN" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"slice"* ]]
	for verb in create list show delete exec login; do
		run "$TRELLIS_BIN" slice "$verb" --help
		[ "$status" -eq 0 ]
		[[ "$output" == *"slice $verb"* ]]
	done
	run "$TRELLIS_BIN" slice --help
	[ "$status" -eq 0 ]
	run "$TRELLIS_BIN" --version
	[ "$status" -eq 0 ]
	[[ "$output" == *"0."* ]]
}

@test "usage errors exit 2 with a message on stderr" {
	run "$TRELLIS_BIN" slice frobnicate
	[ "$status" -eq 2 ]
	run "$TRELLIS_BIN" --no-such-option slice list
	[ "$status" -eq 2 ]
	run "$TRELLIS_BIN" slice create
	[ "$status" -eq 2 ]
	run "$TRELLIS_BIN" slice show
	[ "$status" -eq 2 ]
}

@test "an unreachable daemon is exit 7 and names the socket; TRELLIS_SOCKET is honoured" {
	run "$TRELLIS_BIN" --socket "$T_DIR/nothing-here.sock" slice list
	[ "$status" -eq 7 ]
	[[ "$output" == *"nothing-here.sock"* ]]
	TRELLIS_SOCKET="$T_SOCK" run "$TRELLIS_BIN" --json node show
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r .name)" = "$T_NODE" ]
}

@test "node show reports the node, cgroup layout, fast path and templates" {
	run trellis --json node show
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r .state_dir)" = "$T_DIR/state" ]
	[[ "$(echo "$output" | jq -r .cgroup_layout)" =~ ^v[12]$ ]]
	[ "$(echo "$output" | jq -r .fastpath)" = ebpf-tc ]
	[[ "$(echo "$output" | jq -r .templates)" == *frr* ]]
	[[ "$(echo "$output" | jq -r .templates)" == *plain* ]]
	run trellis node show
	[ "$status" -eq 0 ]
	[[ "$output" == *"$T_NODE"* ]]
}

@test "trellisd: --help, --version, bad options" {
	run "$TRELLISD" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--state-dir"* ]]
	run "$TRELLISD" --version
	[ "$status" -eq 0 ]
	run "$TRELLISD" --bogus
	[ "$status" -eq 2 ]
	run "$TRELLISD" --node 'Not_A_Name'
	[ "$status" -eq 2 ]
	[[ "$output" == *"--node"* ]]
	run "$TRELLISD" --parallel 0
	[ "$status" -eq 2 ]
}

@test "trellisd refuses a socket another instance serves, and a state dir routers cannot reach" {
	run "$TRELLISD" --state-dir "$T_DIR/other" --socket "$T_SOCK" --node t10x
	[ "$status" -eq 1 ]
	[[ "$output" == *"already listening"* ]]
	# the first instance still answers
	trellis node show >/dev/null
	closed=$(mktemp -d /tmp/trellis-closed.XXXXXX)
	chmod 700 "$closed"
	run "$TRELLISD" --state-dir "$closed/state" --socket "$closed/s.sock" --node t10y
	rm -rf "$closed"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not searchable"* ]]
}

@test "trellisd without its trellis-lxc-helper refuses to start, naming where it looked" {
	[ ! -e /usr/local/libexec/trellis/trellis-lxc-helper ] ||
		skip "an installed trellis-lxc-helper exists; a copied trellisd would find it"
	lone=$(mktemp -d /tmp/trellis-test-010h.XXXXXX)
	cp "$TRELLISD" "$lone/trellisd"
	run "$lone/trellisd" --state-dir "$lone/state" --socket "$lone/s.sock" --node t10h
	rm -rf "$lone"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot find trellis-lxc-helper (looked in '$lone' and '/usr/local/libexec/trellis/trellis-lxc-helper')"* ]]
	# the helper itself is not for people: usage, exit 2
	run "$(dirname "$TRELLISD")/trellis-lxc-helper"
	[ "$status" -eq 2 ]
	[[ "$output" == *"internal to trellisd"* ]]
}

@test "a second instance runs beside the first with its own state" {
	other=$(mktemp -d /tmp/trellis-test-010b.XXXXXX)
	chmod 711 "$other"
	"$TRELLISD" --state-dir "$other/state" --socket "$other/s.sock" --node "t10b-$$" >"$other/log" 2>&1 &
	pid=$!
	wait_for 10 "$TRELLIS_BIN" --socket "$other/s.sock" node show
	run "$TRELLIS_BIN" --socket "$other/s.sock" --json node show
	kill "$pid"
	wait "$pid" || true
	rm -rf "$other" "/sys/fs/bpf/trellis/t10b-$$"
	[ "$(echo "$output" | jq -r .name)" = "t10b-$$" ]
}

@test "callers that are not root may not create, delete or exec" {
	cat >"$T_DIR/t10a.yaml" <<EOS
slice: t10a
routers:
  r1: {template: plain}
EOS
	chmod 644 "$T_DIR/t10a.yaml"
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$TRELLIS_BIN" --socket "$T_SOCK" slice create -f "$T_DIR/t10a.yaml"
	[ "$status" -eq 6 ]
	[[ "$output" == *"permission denied"* ]]
	assert_no_leftovers t10a
	# listing works and shows nothing that is not theirs
	trellis -q slice create -f "$T_DIR/t10a.yaml" >/dev/null
	# another's slice is reported as missing, and stays
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$TRELLIS_BIN" --socket "$T_SOCK" slice delete t10a
	[ "$status" -eq 0 ]
	[[ "$output" == *"did not exist"* ]]
	trellis slice show t10a >/dev/null
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$TRELLIS_BIN" --socket "$T_SOCK" --json slice list
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq '.slices | length')" = 0 ]
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$TRELLIS_BIN" --socket "$T_SOCK" slice show t10a
	[ "$status" -eq 4 ]
	trellis -q slice delete t10a
}

@test "garbage on the socket gets an error or a closed connection; the daemon stays up" {
	command -v socat >/dev/null || skip "socat not installed"
	printf 'this is not json\n' | socat -t 2 - "UNIX-CONNECT:$T_SOCK" || true
	printf '{"op":"slice.frob"}\n' | socat -t 2 - "UNIX-CONNECT:$T_SOCK" | grep -q '"ok": *false'
	head -c 100000 /dev/urandom | socat -t 2 - "UNIX-CONNECT:$T_SOCK" >/dev/null 2>&1 || true
	trellis node show >/dev/null
}
