#!/usr/bin/env bats
# Many clients at once: 20 shells creating, showing, listing and deleting in
# parallel give consistent results (every name exactly once, duplicates
# refused, no lost updates, no deadlock); operations on one slice are
# serialized while different slices proceed together.

load helpers

setup_file() {
	# slowfrr: FRR that starts 20 s late, a create that reliably takes a while
	export T_EXTRA_TEMPLATES=$(mktemp -d /tmp/trellis-tpl.XXXXXX)
	chmod 755 "$T_EXTRA_TEMPLATES"
	cp -a "$TRELLIS_SRC/container-templates/frr" "$T_EXTRA_TEMPLATES/slowfrr"
	printf 'sleep 20\nexec /bin/sh /etc/trellis/boot\n' >"$T_EXTRA_TEMPLATES/slowfrr/rootfs/etc/trellis/slowboot"
	sed -i 's|^boot = .*|boot = /bin/sh /etc/trellis/slowboot|' "$T_EXTRA_TEMPLATES/slowfrr/template.conf"
	start_daemon
}

teardown_file() {
	stop_daemon
	rm -rf "$T_EXTRA_TEMPLATES"
}

teardown() {
	for i in $(seq -w 1 20); do
		trellis -q slice delete "t98s$i" >/dev/null 2>&1 || true
	done
	trellis -q slice delete t98dup >/dev/null 2>&1 || true
	trellis -q slice delete t98slow >/dev/null 2>&1 || true
}

one_spec() { plain_pair_spec "$1" 98; } # name

@test "20 clients create 20 slices at once, and 5 race for one name: all consistent" {
	for i in $(seq -w 1 20); do one_spec "t98s$i" >/dev/null; done
	one_spec t98dup >/dev/null
	pids=()
	for i in $(seq -w 1 20); do
		timeout 240 "$TRELLIS_BIN" --socket "$T_SOCK" -q slice create -f "$T_DIR/t98s$i.yaml" \
			>"$T_DIR/c$i.out" 2>&1 &
		pids+=($!)
	done
	for k in 1 2 3 4 5; do
		timeout 240 "$TRELLIS_BIN" --socket "$T_SOCK" -q slice create -f "$T_DIR/t98dup.yaml" \
			>"$T_DIR/d$k.out" 2>&1 &
		pids+=($!)
	done
	# readers meanwhile
	for k in $(seq 10); do
		"$TRELLIS_BIN" --socket "$T_SOCK" --json slice list >/dev/null 2>&1 || true
		sleep 0.3
	done
	fails=0
	for j in "${pids[@]}"; do wait "$j" || fails=$((fails + 1)); done
	# exactly the 4 losers of the duplicate race failed, each with "already exists"
	[ "$fails" -eq 4 ] || { echo "# $fails failed" >&3; grep -H . "$T_DIR"/[cd]*.out | sed 's/^/# /' >&3; false; }
	[ "$(cat "$T_DIR"/d*.out | grep -c "already exists")" -eq 4 ]
	for i in $(seq -w 1 20); do [ ! -s "$T_DIR/c$i.out" ]; done
	run trellis --json slice list
	[ "$(jq '[.slices[].name] | length' <<<"$output")" -eq 21 ]
	[ "$(jq '[.slices[].name] | unique | length' <<<"$output")" -eq 21 ]
	[ "$(jq '[.slices[] | select(.state != "ready")] | length' <<<"$output")" -eq 0 ]
	# uid ranges and link keys never shared
	[ "$(sqlite3 "$T_DIR/state/trellis.db" 'SELECT COUNT(DISTINCT uid_base) FROM slices')" -eq 21 ]
	[ "$(sqlite3 "$T_DIR/state/trellis.db" 'SELECT COUNT(DISTINCT key) FROM links')" -eq 21 ]
	# every one works
	for i in 01 10 20; do
		trellis slice exec "t98s$i" r1 -- ping -c 1 -W 2 10.98.0.2 >/dev/null
	done
	# and 20 parallel deletes leave nothing
	pids=()
	for i in $(seq -w 1 20); do
		timeout 120 "$TRELLIS_BIN" --socket "$T_SOCK" -q slice delete "t98s$i" >/dev/null 2>&1 &
		pids+=($!)
	done
	for j in "${pids[@]}"; do wait "$j"; done
	[ "$(trellis --json slice list | jq '.slices | length')" -eq 1 ]
	for i in $(seq -w 1 20); do assert_no_leftovers "t98s$i"; done
}

@test "different slices proceed in parallel; operations on one slice wait for each other" {
	# a slow create (routers whose FRR starts 20 s late) must not hold up a small one
	f="$T_DIR/t98slow.yaml"
	printf 'slice: t98slow\nrouters:\n' >"$f"
	for i in 1 2; do printf '  r%d: {template: slowfrr}\n' "$i" >>"$f"; done
	trellis -q slice create -f "$f" &
	slow=$!
	wait_for 30 test -d "$T_DIR/state/lxc/t98slow.r2"
	t0=$(date +%s.%N)
	trellis -q slice create -f "$(one_spec t98s01)"
	t1=$(date +%s.%N)
	slow_running=0
	kill -0 "$slow" 2>/dev/null && slow_running=1
	# an operation on the slow slice issued now waits for its create
	# (slice set), then a delete removes it
	trellis -q slice set t98slow --pids 500 &
	set_pid=$!
	sleep 1
	set_waiting=0
	kill -0 "$set_pid" 2>/dev/null && kill -0 "$slow" 2>/dev/null && set_waiting=1
	wait "$slow"
	wait "$set_pid"
	trellis -q slice delete t98slow
	echo "# small create took $(printf %.2f "$(echo "$t1 - $t0" | bc -l)") s while the big one was still running: $slow_running" >&3
	[ "$slow_running" -eq 1 ]
	[ "$set_waiting" -eq 1 ]
	run trellis slice show t98slow
	[ "$status" -eq 4 ]
	assert_no_leftovers t98slow
	[ "$(trellis --json slice show t98s01 | jq -r .state)" = ready ]
}
