#!/usr/bin/env bats
# Local users against the files of trellis (issue 10, attacks 1, 2 and 8):
# another host user, and a router's own mapped root, race 'slice delete'
# with a directory/symlink swap (renameat2 RENAME_EXCHANGE in a loop) to
# make root remove a root-owned canary outside the rootfs; a removal that
# cannot finish (a mount point in the rootfs) is reported as a failure and
# the slice can be deleted once the obstacle is gone; other host users
# cannot read the state database or the logs, list or read a router's
# files, or write into it (the 57 MiB fill of a disk-limited router); state
# left by an older version is made private when the daemon starts.

load helpers
bats_require_minimum_version 1.5.0

NOBODY=65534
RACE_ROUNDS=${RACE_ROUNDS:-100}

# Run a command as host uid $1 (its own gid, no supplementary groups).
as_uid() {
	local u=$1
	shift
	setpriv --reuid="$u" --regid="$u" --clear-groups -- "$@"
}

setup_file() {
	require_root
	command -v cc >/dev/null || skip "no C compiler (cc) for the race helper"
	command -v setpriv >/dev/null || skip "no setpriv (util-linux)"
	export T_BIN T_CANARY
	T_BIN=$(mktemp -d /tmp/trellis-test-082-bin.XXXXXX)
	chmod 755 "$T_BIN"
	cc -O2 -Wall -o "$T_BIN/swap-race" "$TRELLIS_SRC/tests/integration/lib/swap-race.c"
	chmod 755 "$T_BIN/swap-race"
	# Root's files outside every rootfs, with the names the attacker's
	# directory has, so a path-following removal deletes them.
	T_CANARY=$(mktemp -d /tmp/trellis-test-082-canary.XXXXXX)
	chmod 755 "$T_CANARY"
	for i in $(seq 0 19); do echo "canary $i" >"$T_CANARY/f$i"; done
	start_daemon
	printf 'slice: t82a\nrouters:\n  r1: {template: plain}\n' >"$T_DIR/t82a.yaml"
	printf 'slice: t82b\nrouters:\n  r1: {template: plain}\n' >"$T_DIR/t82b.yaml"
}

teardown_file() {
	stop_daemon
	rm -rf "$T_BIN" "$T_CANARY"
}

teardown() {
	local m
	for p in $(pgrep -f "^$T_BIN/swap-race" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
	for m in $(awk -v d="$T_DIR/state/lxc/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
		case "$m" in */rootfs) ;; *) umount "$m" 2>/dev/null || true ;; esac
	done
	for s in t82a t82b t82c t82d; do trellis -q slice delete "$s" >/dev/null 2>&1 || true; done
	rm -rf "$T_DIR/obstacle"
}

canary_intact() {
	local i
	for i in $(seq 0 19); do
		[ "$(cat "$T_CANARY/f$i" 2>/dev/null)" = "canary $i" ] || return 1
	done
}

# One round: create t82a, start the swap race in its rootfs's /var/tmp as
# uid $1 ("mapped": the router's own mapped root), delete the slice while
# it runs.  Returns 2 (message in $RACE_SETUP) if the attacker cannot set up.
race_round() {
	local who=$1 rootfs=$T_DIR/state/lxc/t82a.r1/rootfs uid pid rc=0
	trellis -q slice create -f "$T_DIR/t82a.yaml" >/dev/null || return 1
	uid=$who
	[ "$who" = mapped ] && uid=$(stat -c %u "$rootfs")
	as_uid "$uid" "$T_BIN/swap-race" "$rootfs/var/tmp" "$T_CANARY" 20 >"$T_DIR/race.out" 2>>"$T_DIR/race.err" &
	pid=$!
	for _ in $(seq 1000); do
		grep -q . "$T_DIR/race.out" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.02
	done
	sleep 0.01
	grep -q . "$T_DIR/race.out" || { echo "swap-race did not start in 20 s" >&3; return 1; }
	RACE_SETUP=$(cat "$T_DIR/race.out")
	if [ "$RACE_SETUP" != ready ]; then
		wait "$pid" || rc=$?
		trellis -q slice delete t82a >/dev/null || return 1
		[ "$rc" -eq 2 ] || { echo "swap-race exited $rc: $RACE_SETUP" >&3; return 1; }
		return 2
	fi
	run trellis slice delete t82a
	DELETE_STATUS=$status DELETE_OUTPUT=$output
	wait "$pid" || true
	return 0
}

# $1: the attacker; runs RACE_ROUNDS rounds, stops at the first touched canary.
race_rounds() {
	local who=$1 n r
	: >"$T_DIR/race.err"
	for n in $(seq "$RACE_ROUNDS"); do
		r=0
		race_round "$who" || r=$?
		if [ "$r" -eq 2 ]; then
			echo "# as $who: cannot even set up in the rootfs: $RACE_SETUP" >&3
			RACE_DONE=0
			return 2
		fi
		if [ "$r" -ne 0 ]; then
			echo "# as $who: round $n failed" >&3
			RACE_DONE=$n
			return 1
		fi
		if ! canary_intact; then
			echo "# as $who: round $n: the canary was touched: $(ls "$T_CANARY" | wc -l) of 20 files left; delete said (exit $DELETE_STATUS): $DELETE_OUTPUT" >&3
			RACE_DONE=$n
			return 1
		fi
		if [ "$DELETE_STATUS" -ne 0 ]; then
			echo "# as $who: round $n: delete failed: $DELETE_OUTPUT" >&3
			RACE_DONE=$n
			return 1
		fi
	done
	RACE_DONE=$n
	echo "# as $who: $n deletes raced ($(awk '{s += $2} END {print s + 0}' "$T_DIR/race.err") swaps), canary intact" >&3
}

@test "local user (nobody): the swap race against slice delete cannot reach root's files" {
	local rootfs=$T_DIR/state/lxc/t82a.r1/rootfs r=0
	race_rounds $NOBODY || r=$?
	canary_intact
	if [ "$r" -eq 2 ]; then
		# it cannot even reach the rootfs: that is the point
		[[ "$RACE_SETUP" == *"Permission denied"* ]]
	else
		[ "$r" -eq 0 ]
	fi
}

@test "the router's own mapped root: the swap race against $RACE_ROUNDS deletes never reaches root's files" {
	local r=0
	race_rounds mapped || r=$?
	[ "$r" -eq 0 ]
	canary_intact
	assert_no_leftovers t82a
}

@test "a removal that cannot finish (a mount in the rootfs) fails, says what is left, and the slice is deleted once it is gone" {
	local rootfs=$T_DIR/state/lxc/t82b.r1/rootfs
	trellis -q slice create -f "$T_DIR/t82b.yaml" >/dev/null
	mkdir -p "$T_DIR/obstacle" "$rootfs/var/lib/obst"
	echo keep >"$T_DIR/obstacle/keep"
	mount --bind "$T_DIR/obstacle" "$rootfs/var/lib/obst"
	run trellis slice delete t82b
	echo "# delete with a bind mount in the rootfs: exit $status: $output" >&3
	[ "$status" -ne 0 ]
	[[ "$output" == *"t82b.r1/rootfs/var/lib/obst"* ]]
	[[ "$output" == *"Device or resource busy"* ]]
	# the mount was not crossed: the host directory behind it is untouched
	[ "$(cat "$T_DIR/obstacle/keep")" = keep ]
	# the slice is still there, not reported gone
	[ "$(trellis --json slice list | jq -r '.slices[] | select(.name == "t82b") | .state')" = deleting ]
	umount "$rootfs/var/lib/obst"
	trellis -q slice delete t82b
	assert_no_leftovers t82b
	# and the name can be used again
	trellis -q slice create -f "$T_DIR/t82b.yaml" >/dev/null
	trellis -q slice delete t82b
	assert_no_leftovers t82b
}

@test "other local users cannot read the state, reach a router's files or fill its disk; the routers still work" {
	[ -c /dev/loop-control ] && { [ -x /usr/sbin/mke2fs ] || [ -x /sbin/mke2fs ]; } ||
		skip "no loop devices or mke2fs for limits.disk"
	cat >"$T_DIR/t82c.yaml" <<EOS
slice: t82c
routers:
  r1: {template: plain, limits: {disk: 64M}}
  r2: {template: plain}
  r3: {template: frr, daemons: [ospfd]}
EOS
	trellis -q slice create -f "$T_DIR/t82c.yaml" >/dev/null
	local st=$T_DIR/state lxc=$T_DIR/state/lxc r f u
	for r in r1 r2 r3; do
		trellis slice exec t82c "$r" -- sh -c \
			'echo s3cret >/var/tmp/secret && chmod 644 /var/tmp/secret && echo s3cret >/etc/note && chmod 644 /etc/note'
	done

	# the state: nobody else reads the database or the logs, or lists them
	run as_uid $NOBODY head -c 15 "$st/trellis.db"
	echo "# nobody reads trellis.db: exit $status: $output" >&3
	[ "$status" -ne 0 ]
	run as_uid $NOBODY ls "$st"
	[ "$status" -ne 0 ]
	run as_uid $NOBODY ls "$st/log"
	[ "$status" -ne 0 ]
	# traverse-only directory, root-only database and logs
	[ "$(stat -c %a "$st")" = 711 ]
	for f in "$st"/trellis.db*; do
		echo "# $(stat -c '%a %U %n' "$f")" >&3
		[ "$(stat -c %a "$f")" = 600 ]
	done
	[ "$(stat -c %a "$st/log")" = 700 ]

	for r in r1 r2 r3; do
		local dir=$lxc/t82c.$r rootfs=$lxc/t82c.$r/rootfs
		u=$(stat -c %u "$rootfs")
		run as_uid $NOBODY ls "$rootfs"
		[ "$status" -ne 0 ]
		run as_uid $NOBODY cat "$rootfs/var/tmp/secret"
		echo "# nobody reads t82c/$r's /var/tmp/secret: exit $status: $output" >&3
		[ "$status" -ne 0 ]
		run as_uid $NOBODY cat "$rootfs/etc/note"
		[ "$status" -ne 0 ]
		run as_uid $NOBODY sh -c "echo planted >'$rootfs/var/tmp/planted'"
		[ "$status" -ne 0 ]
		# the tenant still has its files
		[ "$(trellis slice exec t82c "$r" -- cat /var/tmp/secret)" = s3cret ]
		run trellis slice exec t82c "$r" -- ls /var/tmp
		[[ "$output" != *planted* ]]
		# root and the router's mapped root only
		[ "$(stat -c '%a %u %g' "$dir")" = "710 0 $u" ]
	done

	# the 57 MiB fill of the disk-limited router from outside
	run as_uid $NOBODY sh -c "head -c 57M /dev/zero >'$lxc/t82c.r1/rootfs/var/tmp/fill'"
	echo "# nobody writes 57M into t82c/r1's /var/tmp: exit $status: $output" >&3
	[ "$status" -ne 0 ]
	run trellis slice exec t82c r1 -- ls /var/tmp
	[[ "$output" != *fill* ]]
	# the router itself still writes (its disk is its own)
	trellis slice exec t82c r1 -- sh -c 'head -c 32M /dev/zero >/var/tmp/mine && rm /var/tmp/mine'
	# FRR runs as its mapped frr user under the new modes
	run vtysh_in t82c r3 "show version"
	[ "$status" -eq 0 ]
	[[ "$output" == *FRRouting* ]]
	trellis -q slice delete t82c
	assert_no_leftovers t82c
}

@test "state left by an older version (db 0644, container directory 0711 root:root) is made private at start" {
	printf 'slice: t82d\nrouters:\n  r1: {template: plain}\n' >"$T_DIR/t82d.yaml"
	trellis -q slice create -f "$T_DIR/t82d.yaml" >/dev/null
	local st=$T_DIR/state dir=$T_DIR/state/lxc/t82d.r1 u
	u=$(stat -c %u "$dir/rootfs")
	chmod 644 "$st/trellis.db" "$st/seccomp.conf"
	chmod 755 "$st/log"
	chown root:root "$dir"
	chmod 711 "$dir"
	restart_daemon
	[ "$(stat -c %a "$st/trellis.db")" = 600 ]
	[ "$(stat -c %a "$st/seccomp.conf")" = 600 ]
	[ "$(stat -c %a "$st/log")" = 700 ]
	[ "$(stat -c '%a %u %g' "$dir")" = "710 0 $u" ]
	run as_uid $NOBODY ls "$dir/rootfs"
	[ "$status" -ne 0 ]
	# the router was re-adopted and still works
	[ "$(trellis slice exec t82d r1 -- echo alive)" = alive ]
	trellis -q slice delete t82d
	assert_no_leftovers t82d
}
