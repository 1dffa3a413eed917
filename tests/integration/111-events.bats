#!/usr/bin/env bats
# trellis events: every kind triggered for real (a create and a delete, a
# link taken down and a carrier lost, a memory hog OOM-killed, a fork past the
# pids limit, ospfd killed and restarted by watchfrr, a router's init killed,
# BIRD killed and restarted by its boot loop, trellisd killed and restarted,
# a router stopped, started and restarted by an apply)
# and seen by a follower started before the
# trigger; the --slice and --since filters; a tenant's follower sees only its
# slices; followers are capped per user; in cluster mode a node that dies and
# comes back is node-down and node-up.

load helpers
source "$BATS_TEST_DIRNAME/lib/testbed.bash"
source "$BATS_TEST_DIRNAME/lib/etcd.bash"
bats_require_minimum_version 1.5.0

P=t111
ETCD_ADDR=198.18.1.1
URL="etcd://$ETCD_ADDR:2379"

setup_file() {
	require_root
	command -v useradd >/dev/null || skip "useradd not installed"
	export U1="t111a$$" U2="t111b$$"
	for u in "$U1" "$U2"; do
		useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u"
	done
	export T_CONF
	T_CONF=$(mktemp /tmp/trellis-test-111-conf.XXXXXX)
	printf 'allow-tenant-create = yes\ntenant-users = %s, %s\n' "$U1" "$U2" >"$T_CONF"
	chmod 644 "$T_CONF"
	start_daemon --config "$T_CONF"
}

teardown_file() {
	if [ -d "$(testbed_dir "$P")" ]; then cluster_testbed_down 2; fi
	stop_daemon
	rm -f "$T_CONF"
	remove_test_users "${U1:-}" "${U2:-}"
}

teardown() {
	stop_followers
	for s in t111a t111b t111c t111d t111f t111r t111t; do
		trellis -q slice delete "$s" >/dev/null 2>&1 || true
	done
}

# Start `trellis events -f --json ARGS...` in the background (as user $AS if
# set), writing to $T_DIR/NAME.out; prints nothing.  stop_followers ends them.
follow() {
	local name=$1
	shift
	if [ -n "${AS:-}" ]; then
		runuser -u "$AS" -- "$TRELLIS_BIN" --socket "${FSOCK:-$T_SOCK}" events -f --json "$@" >"$T_DIR/$name.out" 2>"$T_DIR/$name.err" 3>&- &
	else
		"$TRELLIS_BIN" --socket "${FSOCK:-$T_SOCK}" events -f --json "$@" >"$T_DIR/$name.out" 2>"$T_DIR/$name.err" 3>&- &
	fi
	echo $! >>"$T_DIR/followers"
	# registered once the history (at least daemon-started for root) is in, or the connection is up
	sleep 0.5
}

stop_followers() {
	[ -f "$T_DIR/followers" ] || return 0
	for p in $(cat "$T_DIR/followers"); do kill "$p" 2>/dev/null || true; done
	rm -f "$T_DIR/followers"
}

# Events of kind $2 (and slice $3, router $4 if given) in follower file $1.
seen() {
	jq -c --arg k "$2" --arg s "${3:-}" --arg r "${4:-}" \
		'select(.kind == $k and ($s == "" or .slice == $s) and ($r == "" or .router == $r))' "$T_DIR/$1.out" 2>/dev/null |
		grep .
}

# Wait up to $1 s for seen "${@:2}".
wait_seen() {
	local t=$1
	shift
	wait_for "$t" seen "$@" >/dev/null || {
		echo "no '$2' event in $1.out; it has:" >&2
		cat "$T_DIR/$1.out" >&2
		return 1
	}
}

pids_of() { # host pids of processes named $3 in router $2 of slice $1
	local p
	for p in $(cat /sys/fs/cgroup/pids/trellis/"$T_NODE"/"$1"/"$2"/cgroup.procs /sys/fs/cgroup/trellis/"$T_NODE"/"$1"/"$2"/cgroup.procs 2>/dev/null); do
		if [ "$(cat /proc/"$p"/comm 2>/dev/null)" = "$3" ]; then echo "$p"; fi
	done
}

@test "create and delete: routers started and stopped, the slice created and deleted, in order" {
	follow f1
	trellis -q slice create -f "$(plain_pair_spec t111a 111)"
	wait_seen 10 f1 router-started t111a r1
	wait_seen 10 f1 router-started t111a r2
	wait_seen 10 f1 slice-created t111a
	[[ "$(seen f1 slice-created t111a | jq -r .message)" == *"2 routers, 1 links"* ]]
	# r1's pid in the event is the router's init
	pid=$(trellis --json slice show t111a | jq '.routers[] | select(.name == "r1") | .pid')
	[[ "$(seen f1 router-started t111a r1 | jq -r .message)" == *"init pid $pid"* ]]
	trellis -q slice delete t111a
	wait_seen 10 f1 router-stopped t111a r1
	wait_seen 10 f1 slice-deleted t111a
	# ids ascend: started < created < stopped < deleted
	ids=$(jq -r 'select(.slice == "t111a") | .kind' "$T_DIR/f1.out" | tr '\n' ' ')
	echo "# $ids" >&3
	[[ "$ids" == "router-started router-started slice-created router-stopped router-stopped slice-deleted " ]]
	# no exit event for a deliberate stop
	run ! seen f1 router-exited t111a
}

@test "router stop/start and an apply's restart: stopped and started again, never an exit; the new init is watched" {
	follow f13 --slice t111r
	trellis -q slice create -f "$(plain_pair_spec t111r 113)"
	wait_seen 10 f13 router-started t111r r2
	trellis -q router stop t111r r2
	wait_seen 10 f13 router-stopped t111r r2
	trellis -q router start t111r r2
	wait_for 10 eval '[ "$(seen f13 router-started t111r r2 | wc -l)" -eq 2 ]'
	# a loopback for r2: apply restarts r2
	sed -i 's|^  r2: {template: plain}|  r2: {template: plain, loopback: [10.255.113.2/32]}|' "$T_DIR/t111r.yaml"
	trellis slice apply -f "$T_DIR/t111r.yaml" | grep -q 'router r2 restarts'
	wait_seen 10 f13 slice-applied t111r
	wait_for 10 eval '[ "$(seen f13 router-started t111r r2 | wc -l)" -eq 3 ]'
	[ "$(seen f13 router-stopped t111r r2 | wc -l)" -eq 2 ]
	run ! seen f13 router-exited t111r
	# the restarted router's init is the one watched: killing it is an exit
	pid=$(trellis --json slice show t111r | jq '.routers[] | select(.name == "r2") | .pid')
	kill -KILL "$pid"
	wait_seen 10 f13 router-exited t111r r2
	[[ "$(seen f13 router-exited t111r r2 | jq -r .message)" == *"(init pid $pid)"* ]]
}

@test "link down/up and a carrier lost inside a router, from rtnetlink" {
	trellis -q slice create -f "$(plain_pair_spec t111a 111)"
	follow f2 --slice t111a
	trellis -q link down t111a r1:eth1
	wait_seen 10 f2 link-down t111a
	wait_seen 10 f2 carrier-lost t111a r1
	trellis -q link up t111a r1:eth1
	wait_seen 10 f2 link-up t111a
	wait_seen 10 f2 carrier-up t111a r1
	# r2 takes its own end down: the host end of that veth pair loses its carrier
	trellis slice exec t111a r2 -- ip link set eth1 down
	wait_for 10 eval '[ "$(seen f2 carrier-lost t111a r2 | wc -l)" -ge 2 ]'
	[[ "$(seen f2 carrier-lost t111a r2 | tail -1 | jq -r .message)" == *"r2:eth1 (host end 't111a.r2.eth1'): carrier lost"* ]]
	trellis slice exec t111a r2 -- ip link set eth1 up
	wait_for 10 eval '[ "$(seen f2 carrier-up t111a r2 | wc -l)" -ge 2 ]'
}

@test "a memory hog OOM-killed and a fork past the pids limit, from the cgroup" {
	f="$T_DIR/t111c.yaml"
	printf 'slice: t111c\nrouters:\n  r1: {template: plain, limits: {memory: 96M, pids: 40}}\n  r2: {template: plain}\n' >"$f"
	trellis -q slice create -f "$f"
	follow f3
	run trellis slice exec t111c r1 -- python3 -c "x = b'x' * (300 << 20); print('survived')"
	[ "$status" -eq 137 ]
	wait_seen 10 f3 oom t111c r1
	[[ "$(seen f3 oom t111c r1 | jq -r .message)" == *"OOM-killed"* ]]
	run trellis slice exec t111c r1 -- sh -c 'for i in $(seq 60); do sleep 2 & done; wait'  # lint-bats: allow unchecked-run -- it only drives the router into its pids limit; wait_seen below is the check
	wait_seen 10 f3 pids-max t111c r1
	[[ "$(seen f3 pids-max t111c r1 | jq -r .message)" == *"pids limit reached"* ]]
	# r2 had neither
	run ! seen f3 oom t111c r2
	run ! seen f3 pids-max t111c r2
}

@test "ospfd killed: it exited, and watchfrr restarted it (proc connector)" {
	trellis -q slice create -f "$(example_as ospf-pair.yaml t111f)"
	follow f4 --slice t111f
	wait_for 20 eval '[ -n "$(pids_of t111f r1 ospfd)" ]'
	old=$(pids_of t111f r1 ospfd)
	kill -KILL $old
	wait_seen 10 f4 daemon-exited t111f r1
	[[ "$(seen f4 daemon-exited t111f r1 | jq -r .message)" == "ospfd (pid $old) exited: killed by signal 9"* ]]
	wait_seen 60 f4 daemon-restarted t111f r1
	new=$(pids_of t111f r1 ospfd)
	[ -n "$new" ] && [ "$new" != "$old" ]
	# the pid is the exec'd one (ospfd -d then forks into $new)
	[[ "$(seen f4 daemon-restarted t111f r1 | jq -r .message)" == "ospfd restarted by its supervisor (watchfrr), pid "* ]]
	# that fork's parent leaving is not another exit; r2's ospfd never left
	sleep 1
	[ "$(seen f4 daemon-exited t111f | wc -l)" = 1 ]
}

@test "bird killed: it exited, and the boot loop restarted it" {
	[ -x /usr/sbin/bird ] || skip "bird2 not installed"
	printf 'slice: t111d\nrouters:\n  r1:\n    template: bird\n    config: |\n      router id 10.111.0.1;\n      protocol device {}\n' >"$T_DIR/t111d.yaml"
	trellis -q slice create -f "$T_DIR/t111d.yaml"
	follow f8 --slice t111d
	old=$(pids_of t111d r1 bird)
	[ -n "$old" ]
	kill -KILL $old
	wait_seen 10 f8 daemon-exited t111d r1
	[[ "$(seen f8 daemon-exited t111d r1 | jq -r .message)" == "bird (pid $old) exited: killed by signal 9"* ]]
	wait_seen 30 f8 daemon-restarted t111d r1
	[[ "$(seen f8 daemon-restarted t111d r1 | jq -r .message)" == "bird restarted by its supervisor (the boot loop), pid "* ]]
}

@test "a router's init killed: router-exited with its status (pidfd)" {
	trellis -q slice create -f "$(plain_pair_spec t111a 111)"
	follow f5
	pid=$(trellis --json slice show t111a | jq '.routers[] | select(.name == "r2") | .pid')
	kill -KILL "$pid"
	wait_seen 10 f5 router-exited t111a r2
	[[ "$(seen f5 router-exited t111a r2 | jq -r .message)" == "router 'r2' exited (init pid $pid): killed by signal 9"* ]]
	run ! seen f5 router-exited t111a r1
}

@test "kill -9 trellisd and restart: daemon started, routers adopted, drift repaired; the history survives" {
	trellis -q slice create -f "$(plain_pair_spec t111a 111)"
	follow f6
	restart_daemon KILL
	# the follower's connection ended with the daemon
	wait_for 10 eval '! kill -0 $(tail -1 "$T_DIR/followers") 2>/dev/null'
	run trellis --json events --since 30s
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '[.events[] | select(.kind == "daemon-started")] | length >= 1'
	msg=$(echo "$output" | jq -r '[.events[] | select(.kind == "daemon-started")] | last | .message')
	echo "# $msg" >&3
	[[ "$msg" == *"2 running routers adopted"* ]]
	# events from before the restart are still there (SQLite): this slice's create
	created=$(jq -r 'select(.kind == "slice-created" and .slice == "t111a") | .id' "$T_DIR/f6.out" | tail -1)
	[ -n "$created" ]
	echo "$output" | jq -e --argjson id "$created" '[.events[] | select(.id == $id and .kind == "slice-created")] | length == 1'
	# drift while the daemon is away: r2 stopped; the next daemon restarts it and says so
	pid=$(trellis --json slice show t111a | jq '.routers[] | select(.name == "r2") | .pid')
	kill -KILL "$(cat "$T_DIR/trellisd.pid")"
	kill -KILL "$pid"
	sleep 0.5
	restart_daemon KILL
	run trellis --json events --slice t111a --since 30s
	echo "$output" | jq -e '[.events[] | select(.kind == "reconcile" and (.message | test("restarted")))] | length >= 1'
	# and the adopted routers are watched: an init killed now is reported
	follow f7 --slice t111a
	pid=$(trellis --json slice show t111a | jq '.routers[] | select(.name == "r1") | .pid')
	kill -KILL "$pid"
	wait_seen 10 f7 router-exited t111a r1
}

@test "--slice and --since filter the history" {
	trellis -q slice create -f "$(plain_pair_spec t111a 111)"
	trellis -q slice create -f "$(plain_pair_spec t111b 112)"
	run trellis --json events --slice t111b
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r '[.events[].slice] | unique | join(",")')" = t111b ]
	echo "$output" | jq -e '[.events[] | select(.kind == "slice-created")] | length == 1'
	# --since: nothing from the future; a time just before the next event gets it alone
	run trellis --json events --since "$(($(date +%s) + 100))"
	[ "$(echo "$output" | jq '.events | length')" = 0 ]
	sleep 1.1
	t=$(date +%s)
	trellis -q link down t111b r1:eth1
	run trellis --json events --since "$t" --slice t111b
	[ "$(echo "$output" | jq -r '[.events[] | select(.kind | test("^link-")) | .kind] | join(",")')" = link-down ]
	echo "$output" | jq -e '[.events[] | select(.kind == "slice-created")] | length == 0'
	# text output: one line per event
	run trellis events --slice t111b --since "$t"
	[[ "$output" == *"t111b"*"link-down"*"link 'r1:eth1-r2:eth1' changed: taken down"* ]]
	# bad arguments are usage errors naming the option
	run trellis events --since yesterday
	[ "$status" -eq 2 ]
	[[ "$output" == *"--since 'yesterday': not a time"* ]]
	run trellis events --slice 'A!'
	[ "$status" -eq 2 ]
}

@test "a tenant's follower sees only its own slices' events" {
	chmod 644 "$(plain_pair_spec t111t 113)"
	AS=$U1 follow ft1
	AS=$U2 follow ft2
	follow froot
	runuser -u "$U1" -- "$TRELLIS_BIN" --socket "$T_SOCK" -q slice create -f "$T_DIR/t111t.yaml"
	trellis -q slice create -f "$(plain_pair_spec t111a 111)"
	wait_seen 10 ft1 slice-created t111t
	wait_seen 10 froot slice-created t111a
	wait_seen 10 froot slice-created t111t
	sleep 0.5
	# U1: its slice only, no node events, nothing of root's slice
	[ "$(jq -r '.slice' "$T_DIR/ft1.out" | sort -u | tr '\n' ,)" = "t111t," ]
	# U2: nothing at all
	[ ! -s "$T_DIR/ft2.out" ]
	# the history answers the same
	run runuser -u "$U2" -- "$TRELLIS_BIN" --socket "$T_SOCK" --json events
	[ "$(echo "$output" | jq '.events | length')" = 0 ]
	run runuser -u "$U2" -- "$TRELLIS_BIN" --socket "$T_SOCK" --json events --slice t111t
	[ "$(echo "$output" | jq '.events | length')" = 0 ]
	run runuser -u "$U1" -- "$TRELLIS_BIN" --socket "$T_SOCK" --json events --slice t111a
	[ "$(echo "$output" | jq '.events | length')" = 0 ]
	run runuser -u "$U1" -- "$TRELLIS_BIN" --socket "$T_SOCK" --json events
	[ "$(echo "$output" | jq -r '[.events[].slice] | unique | join(",")')" = t111t ]
	runuser -u "$U1" -- "$TRELLIS_BIN" --socket "$T_SOCK" -q slice delete t111t
}

@test "followers are capped per user; root still follows; a freed slot is usable again" {
	for i in 1 2 3 4 5 6 7 8; do AS=$U1 follow cap$i; done
	run runuser -u "$U1" -- "$TRELLIS_BIN" --socket "$T_SOCK" events -f
	[ "$status" -ne 0 ]
	[[ "$output" == *"too many event followers from uid $(id -u "$U1") (limit 8)"* ]]
	# another user and root are not held by U1's followers
	AS=$U2 follow capu2
	follow caproot
	sleep 0.5
	[ ! -s "$T_DIR/capu2.err" ] && [ ! -s "$T_DIR/caproot.err" ]
	trellis -q slice create -f "$(plain_pair_spec t111a 111)"
	wait_seen 10 caproot slice-created t111a
	for i in 1 2 3 4 5 6 7 8; do kill -0 "$(sed -n ${i}p "$T_DIR/followers")"; done
	# one of U1's ends: the next is admitted
	kill "$(sed -n 1p "$T_DIR/followers")"
	sleep 0.5
	AS=$U1 follow cap9
	kill -0 "$(tail -1 "$T_DIR/followers")"
	[ ! -s "$T_DIR/cap9.err" ]
}

@test "a follower that stops reading is cut, never waited for; the others get every event" {
	trellis -q slice create -f "$(plain_pair_spec t111a 111)"
	follow fok --slice t111a
	python3 "$BATS_TEST_DIRNAME/lib/slowfollow.py" "$T_SOCK" 25 >"$T_DIR/slow.out" 3>&- &
	slow=$!
	sleep 0.5
	# 3000 carrier changes at once: the host end taken down and up 1500 times
	for i in $(seq 1500); do echo "link set t111a.r1.eth1 down"; echo "link set t111a.r1.eth1 up"; done >"$T_DIR/flap"
	ip -batch "$T_DIR/flap"
	# the daemon answers at once meanwhile
	start=$(date +%s%N)
	trellis --json slice show t111a >/dev/null
	[ $((($(date +%s%N) - start) / 1000000)) -lt 2000 ]
	# the reading follower got all 3000
	wait_for 20 eval '[ "$(seen fok carrier-lost t111a r1 | wc -l)" -ge 1500 ] && [ "$(seen fok carrier-up t111a r1 | wc -l)" -ge 1500 ]'
	# the one that never read was cut (its connection closed) long before it would have read
	wait "$slow"
	cat "$T_DIR/slow.out" | cut -c1-200 >&3
	[[ "$(cat "$T_DIR/slow.out")" == "lines "*" eof 1 "* ]]
	[ "$(awk '{print $2}' "$T_DIR/slow.out")" -lt 3000 ]
	grep -qE "event follower uid 0 pid [0-9]+ (stopped reading|fell behind)" "$T_DIR/trellisd.log"
}

@test "cluster mode: a node whose daemon dies is node-down on the others, node-up when it is back" {
	cluster_up 2
	FSOCK=$(testbed_sock "$P" 1) follow fc
	# kill -9: no chance to revoke its lease; the others see it expire
	testbed_daemon_stop "$P" 2 KILL
	wait_seen 30 fc node-down
	[[ "$(seen fc node-down | jq -r .message)" == "node '${P}n2' is down (its lease expired)" ]]
	[ "$(seen fc node-down | jq -r .node)" = "${P}n1" ]
	testbed_daemon "$P" 2 --cluster "$URL"
	wait_seen 30 fc node-up
	[[ "$(seen fc node-up | jq -r .message)" == "node '${P}n2' is up (registered)" ]]
	# node events are root's: a tenant's history on node 1 has none
	run runuser -u "$U1" -- "$TRELLIS_BIN" --socket "$(testbed_sock "$P" 1)" --json events
	[ "$(echo "$output" | jq '[.events[] | select(.kind | test("^node-"))] | length')" = 0 ]
	stop_followers
	cluster_testbed_down 2
}
