#!/usr/bin/env bats
# limits: disk: a router's rootfs is an ext4 file system of exactly that size
# (a preallocated image on a loop device): the tenant fills it and gets
# ENOSPC, the host's disk and its other routers and slices are untouched;
# delete, rollback and restarts leave no loop device, mount or image behind;
# a create the host has no room for is refused up front.

load helpers

setup_file() {
	require_root
	[ -c /dev/loop-control ] || skip "no /dev/loop-control: loop devices are unavailable"
	[ -x /usr/sbin/mke2fs ] || [ -x /sbin/mke2fs ] || skip "no mke2fs (e2fsprogs)"
	grep -qw ext4 /proc/filesystems || skip "the kernel has no ext4"
	export T_EXTRA_TEMPLATES=$(mktemp -d /tmp/trellis-tpl.XXXXXX)
	chmod 755 "$T_EXTRA_TEMPLATES"
	mkdir -p "$T_EXTRA_TEMPLATES/broken"
	printf 'description = cannot start\nrouting = none\nboot = /nonexistent/boot\n' \
		>"$T_EXTRA_TEMPLATES/broken/template.conf"
	start_daemon
}

teardown_file() {
	stop_daemon
	rm -rf "$T_EXTRA_TEMPLATES"
}

teardown() {
	# a test that failed between killing the daemon and starting it again:
	# the deletes below need one
	if ! kill -0 "$(cat "$T_DIR/trellisd.pid" 2>/dev/null)" 2>/dev/null; then
		restart_daemon || true
	fi
	for s in t92a t92b t92c t92d t92e t92p t92n; do trellis -q slice delete "$s" >/dev/null 2>&1 || true; done
	if [ -n "${SMALL_PID:-}" ]; then
		"$TRELLIS_BIN" --socket "$T_DIR/small/s.sock" -q slice delete t92c >/dev/null 2>&1 || true
		kill "$SMALL_PID" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$SMALL_PID" 2>/dev/null || break; sleep 0.1; done
	fi
	rm -rf "/sys/fs/bpf/trellis/t092small"
	mountpoint -q "$T_DIR/small" && umount "$T_DIR/small"
	rm -rf "$T_DIR/small"
}

# What a slice's disk limits could leave: loop devices on its images, mounts, images.
disk_leftovers() { # slice [lxcpath]
	local s=$1 lxc=${2:-$T_DIR/state/lxc} found=0
	if losetup -a | grep -q "$lxc/$s\."; then
		echo "loop devices: $(losetup -a | grep "$lxc/$s\." | tr '\n' ' ')"
		found=1
	fi
	if grep -q " $lxc/$s\.[^ ]*/rootfs " /proc/self/mountinfo; then
		echo "mounts: $(grep " $lxc/$s\.[^ ]*/rootfs " /proc/self/mountinfo | tr '\n' ' ')"
		found=1
	fi
	if ls "$lxc/$s".*.img >/dev/null 2>&1; then
		echo "images: $(ls "$lxc/$s".*.img | tr '\n' ' ')"
		found=1
	fi
	return $((1 - found))
}

# No leftovers, allowing the kernel a moment: autoclear detaches the loop device after the unmount.
assert_no_disk_leftovers() {
	local out
	for _ in $(seq 50); do
		out=$(disk_leftovers "$@") || return 0
		sleep 0.1
	done
	echo "disk limits of '$1' left behind: $out" >&2
	return 1
}

free_kib() { df -k --output=avail "$1" | tail -1 | tr -d ' '; }

@test "disk: 32M: the tenant's root gets ENOSPC, the host keeps its space, other routers and slices still write" {
	cat >"$T_DIR/t92a.yaml" <<EOS
slice: t92a
routers:
  r1: {template: plain, limits: {disk: 32M, memory: 64M}}
  r2: {template: plain}
EOS
	printf 'slice: t92b\nrouters:\n  r1: {template: plain}\n' >"$T_DIR/t92b.yaml"
	local before after lxc=$T_DIR/state/lxc
	before=$(free_kib "$T_DIR")
	trellis -q slice create -f "$T_DIR/t92a.yaml"
	trellis -q slice create -f "$T_DIR/t92b.yaml"
	# the rootfs is an ext4 of exactly 32M on a loop device, mounted nosuid,nodev
	[ "$(stat -c %s "$lxc/t92a.r1.img")" -eq $((32 << 20)) ]
	grep " $lxc/t92a.r1/rootfs " /proc/self/mountinfo | grep -q "nosuid,nodev.* - ext4 /dev/loop"
	losetup -a | grep -q "($lxc/t92a.r1.img)"
	[ ! -e "$lxc/t92a.r2.img" ]
	run grep -q " $lxc/t92a.r2/rootfs " /proc/self/mountinfo
	[ "$status" -eq 1 ]

	run trellis slice exec t92a r1 -- sh -c 'head -c 100M /dev/zero >/root/fill'
	echo "# write 100M as root in t92a/r1: exit $status: $output" >&3
	[ "$status" -ne 0 ]
	[[ "$output" == *"No space left on device"* ]]
	run trellis slice exec t92a r1 -- sh -c 'head -c 1M /dev/zero >/var/more'
	[ "$status" -ne 0 ]
	[[ "$output" == *"No space left on device"* ]]
	local size
	size=$(trellis slice exec t92a r1 -- stat -c %s /root/fill)
	echo "# t92a/r1 /root/fill stopped at $size bytes" >&3
	[ "$size" -gt $((24 << 20)) ] && [ "$size" -le $((32 << 20)) ]

	# the host: the whole slice pair took about the limit (the image), not 100M
	after=$(free_kib "$T_DIR")
	echo "# host free before $before KiB, after $after KiB: dropped $(((before - after) / 1024)) MiB" >&3
	[ $((before - after)) -lt $(((32 + 24) * 1024)) ]

	# the router without a limit and the other slice still write
	trellis slice exec t92a r2 -- sh -c 'head -c 8M /dev/zero >/root/ok && sync'
	trellis slice exec t92b r1 -- sh -c 'head -c 8M /dev/zero >/var/ok && sync'
	[ "$(trellis slice exec t92a r2 -- stat -c %s /root/ok)" -eq $((8 << 20)) ]
	[ "$(trellis slice exec t92b r1 -- stat -c %s /var/ok)" -eq $((8 << 20)) ]
	# freeing space in the full router makes it writable again
	trellis slice exec t92a r1 -- sh -c 'rm /root/fill && echo ok >/root/again'
}

@test "show and stats report the limit and the usage (text and --json)" {
	cat >"$T_DIR/t92a.yaml" <<EOS
slice: t92a
router-defaults:
  limits: {disk: 32M}
routers:
  r1: {template: plain}
  r2: {template: plain, limits: {disk: 16M}}
EOS
	trellis -q slice create -f "$T_DIR/t92a.yaml"
	[ "$(trellis --json slice show t92a | jq -c '[.routers[].limits.disk]')" = "[$((32 << 20)),$((16 << 20))]" ]
	trellis slice show t92a | grep -E '^r1 .* 32M *$'
	trellis slice show t92a | grep -E '^r2 .* 16M *$'
	trellis slice exec t92a r1 -- sh -c 'head -c 100M /dev/zero >/root/fill' || true
	local u used max
	u=$(trellis --json slice stats t92a | jq -c '.routers[] | select(.name == "r1") | .usage')
	echo "# r1 usage: $u" >&3
	used=$(jq .disk <<<"$u")
	max=$(jq .disk_max <<<"$u")
	[ "$max" -eq $((32 << 20)) ]
	# full: everything but ext4's own metadata
	[ "$used" -gt $((max * 85 / 100)) ] && [ "$used" -le "$max" ]
	[ "$(jq .disk_free <<<"$u")" -lt $((1 << 20)) ]
	u=$(trellis --json slice stats t92a | jq -c '.routers[] | select(.name == "r2") | .usage')
	[ "$(jq .disk_max <<<"$u")" -eq $((16 << 20)) ] && [ "$(jq .disk <<<"$u")" -lt $((4 << 20)) ]
	run trellis slice stats t92a
	echo "$output" | sed 's/^/# /' >&3
	echo "$output" | grep -E '^r1 +running .* 2[5-9]\.[0-9]M/32M *$|^r1 +running .* 3[0-2]\.[0-9]M/32M *$'
	echo "$output" | grep -E '^r2 +running .* [0-3]\.[0-9]M/16M *$'
	# set has no disk: it is fixed at create
	run trellis slice set t92a --router r1 --disk 64M
	echo "# $output" >&3
	[ "$status" -eq 2 ]
}

@test "hostile tenant: cannot unmount, remount or cover its rootfs to escape the quota" {
	printf 'slice: t92a\nrouters:\n  r1: {template: plain, limits: {disk: 16M}}\n' >"$T_DIR/t92a.yaml"
	trellis -q slice create -f "$T_DIR/t92a.yaml"
	local try rc out
	for try in 'umount /' 'umount -l /' 'umount -f /' 'mount -o remount,rw /' \
		'mount -t tmpfs -o size=1g none /root' 'mount --bind /tmp /root' 'mount -t ext4 /dev/loop0 /mnt' \
		'mount --make-private /'; do
		rc=0
		out=$(trellis slice exec t92a r1 -- sh -c "$try" 2>&1) || rc=$?
		echo "# [t92a/r1 exec] \`$try\` -> exit $rc: $(echo "$out" | tr '\n' ' ' | cut -c1-160)" >&3
		[ "$rc" -ne 0 ] && [ "$rc" -ne 127 ]
	done
	# the system calls themselves, not just what mount(8) and umount(8) make of them
	if trellis slice exec t92a r1 -- python3 -c 'pass' 2>/dev/null; then
		for try in 'umount2(b"/", 2)' 'umount2(b"/", 0)' 'mount(None, b"/", None, 32 | 4096, None)' \
			'mount(b"none", b"/root", b"tmpfs", 0, None)'; do
			rc=0
			out=$(trellis slice exec t92a r1 -- python3 -c "import ctypes, sys
l = ctypes.CDLL(None, use_errno=True)
r = l.$try
print('returned', r, 'errno', ctypes.get_errno())
sys.exit(0 if r == 0 else 1)" 2>&1) || rc=$?
			echo "# [t92a/r1 exec] $try -> exit $rc: $out" >&3
			[ "$rc" -eq 1 ]
		done
	fi
	# no block device to reach the image directly
	run trellis slice exec t92a r1 -- sh -c 'ls /dev/loop* 2>/dev/null'
	[ -z "$output" ]
	# still the 16M file system, still full at 16M
	trellis slice exec t92a r1 -- sh -c 'head -c 64M /dev/zero >/root/fill' && false
	[ "$(trellis slice exec t92a r1 -- stat -c %s /root/fill)" -le $((16 << 20)) ]
	[ "$(trellis slice exec t92a r1 -- stat -f -c '%b' /)" -le $((16 << 10)) ]
}

@test "delete leaves no loop device, mount or image" {
	cat >"$T_DIR/t92a.yaml" <<EOS
slice: t92a
router-defaults:
  limits: {disk: 16M}
routers:
  r1: {template: plain}
  r2: {}
  r3: {template: plain}
EOS
	trellis -q slice create -f "$T_DIR/t92a.yaml"
	[ "$(losetup -a | grep -c "$T_DIR/state/lxc/t92a\.")" -eq 3 ]
	# the images beside the containers are not routers
	[ "$(trellis --json node show | jq .routers)" -eq 3 ]
	trellis slice exec t92a r2 -- sh -c 'echo data >/root/x'
	trellis -q slice delete t92a
	assert_no_disk_leftovers t92a
	assert_no_leftovers t92a
}

@test "a failed create rolls back the mounted rootfs of the routers it had built" {
	cat >"$T_DIR/t92d.yaml" <<EOS
slice: t92d
router-defaults:
  limits: {disk: 16M}
routers:
  r1: {template: plain}
  r2: {template: plain}
  r3: {template: broken}
EOS
	run trellis slice create -f "$T_DIR/t92d.yaml"
	echo "# $output" | tail -1 >&3
	[ "$status" -ne 0 ]
	[[ "$output" == *"rolling back"* ]]
	[[ "$output" == *"router 'r3'"* ]]
	assert_no_disk_leftovers t92d
	assert_no_leftovers t92d
}

@test "out of disk: a create whose disk limits exceed the free space is refused naming the numbers, nothing left" {
	mkdir -p "$T_DIR/small"
	chmod 711 "$T_DIR/small"
	mount -t tmpfs -o size=160m,mode=711 tmpfs "$T_DIR/small"
	"$TRELLISD" --state-dir "$T_DIR/small/state" --socket "$T_DIR/small/s.sock" --node t092small \
		--template-path "$TRELLIS_SRC/container-templates" >"$T_DIR/small.log" 2>&1 &
	SMALL_PID=$!
	wait_for 10 "$TRELLIS_BIN" --socket "$T_DIR/small/s.sock" node show
	local small="$TRELLIS_BIN --socket $T_DIR/small/s.sock" lxc="$T_DIR/small/state/lxc"
	cat >"$T_DIR/t92c.yaml" <<EOS
slice: t92c
routers:
  r1: {template: plain, limits: {disk: 64M}}
  r2: {template: plain, limits: {disk: 64M}}
  r3: {template: plain}
EOS
	run $small slice create -f "$T_DIR/t92c.yaml"
	echo "# $output" | tail -1 >&3
	[ "$status" -eq 9 ]
	[[ "$output" == *"disk: "*"M free on the file system of the state directory '$T_DIR/small/state'; 3 routers need 193M (64M kept free + 1M each of 1 without limits.disk + limits.disk 128M of 2)"* ]]
	[ -z "$(ls "$lxc" 2>/dev/null)" ]
	assert_no_disk_leftovers t92c "$lxc"
	# what fits is built, on the same small file system
	sed -i 's/disk: 64M}/disk: 32M}/' "$T_DIR/t92c.yaml"
	$small -q slice create -f "$T_DIR/t92c.yaml"
	[ "$($small slice exec t92c r1 -- stat -f -c '%b' /)" -le $((32 << 10)) ]
	$small -q slice delete t92c
	assert_no_disk_leftovers t92c "$lxc"
	[ -z "$(ls "$lxc" 2>/dev/null)" ]
}


@test "kill -9 trellisd: the router keeps its mounted rootfs and data, is re-adopted, delete cleans up" {
	printf 'slice: t92e\nrouters:\n  r1: {template: plain, limits: {disk: 16M}}\n  r2: {template: plain}\n' \
		>"$T_DIR/t92e.yaml"
	trellis -q slice create -f "$T_DIR/t92e.yaml"
	trellis slice exec t92e r1 -- sh -c 'echo kept >/root/marker'
	local pid loop
	pid=$(trellis --json slice show t92e | jq -r '.routers[] | select(.name == "r1") | .pid')
	loop=$(losetup -a | grep "($T_DIR/state/lxc/t92e.r1.img)" | cut -d: -f1)
	[ -n "$loop" ]
	restart_daemon
	[ "$(actions t92e)" = '[]' ]
	[ "$(trellis --json slice show t92e | jq -r '.routers[] | select(.name == "r1") | .pid')" = "$pid" ]
	[ "$(trellis slice exec t92e r1 -- cat /root/marker)" = kept ]
	[ "$(losetup -a | grep "($T_DIR/state/lxc/t92e.r1.img)" | cut -d: -f1)" = "$loop" ]
	[ "$(trellis --json slice stats t92e | jq '.routers[] | select(.name == "r1") | .usage.disk_max')" -eq $((16 << 20)) ]
	trellis -q slice delete t92e
	assert_no_disk_leftovers t92e
	assert_no_leftovers t92e
}

@test "a router stopped while trellisd was away is restarted on a fresh file system, the old one unmounted and freed" {
	printf 'slice: t92e\nrouters:\n  r1: {template: plain, limits: {disk: 16M}}\n' >"$T_DIR/t92e.yaml"
	trellis -q slice create -f "$T_DIR/t92e.yaml"
	trellis slice exec t92e r1 -- sh -c 'echo old >/root/marker'
	local img="$T_DIR/state/lxc/t92e.r1.img"
	kill -KILL "$(cat "$T_DIR/trellisd.pid")"
	lxc-stop -P "$T_DIR/state/lxc" -n t92e.r1 -k
	# stopped, its file system still mounted on the host
	mountpoint -q "$T_DIR/state/lxc/t92e.r1/rootfs"
	restart_daemon
	[ "$(actions t92e)" = '["restarted"]' ]
	[ "$(trellis --json slice show t92e | jq -r '.routers[0].state')" = running ]
	# a fresh rootfs (as without disk:), on a new image, the old loop device gone
	run trellis slice exec t92e r1 -- cat /root/marker
	[ "$status" -ne 0 ]
	wait_for 5 eval "[ \"\$(losetup -a | grep -c '$img')\" -eq 1 ]"
	[ "$(grep -c " $T_DIR/state/lxc/t92e.r1/rootfs " /proc/self/mountinfo)" -eq 1 ]
	trellis -q slice delete t92e
	assert_no_disk_leftovers t92e
}

@test "host restart (emulated): a persist slice gets a fresh rootfs file system, another is removed with its image" {
	printf 'slice: t92p\npersist: true\nrouters:\n  r1: {template: plain, limits: {disk: 16M}}\n' >"$T_DIR/t92p.yaml"
	printf 'slice: t92n\nrouters:\n  r1: {template: plain, limits: {disk: 16M}}\n' >"$T_DIR/t92n.yaml"
	trellis -q slice create -f "$T_DIR/t92p.yaml"
	trellis -q slice create -f "$T_DIR/t92n.yaml"
	trellis slice exec t92p r1 -- sh -c 'echo gone >/root/marker'
	# what a reboot leaves: the store with another boot recorded and the image
	# files; no routers, mounts or loop devices
	kill -KILL "$(cat "$T_DIR/trellisd.pid")"
	for s in t92p t92n; do
		lxc-stop -P "$T_DIR/state/lxc" -n "$s.r1" -k >/dev/null 2>&1 || true
		for _ in $(seq 50); do umount "$T_DIR/state/lxc/$s.r1/rootfs" 2>/dev/null && break; sleep 0.1; done
		run mountpoint -q "$T_DIR/state/lxc/$s.r1/rootfs"
		[ "$status" -ne 0 ]
		sqlite3 "$T_DIR/state/trellis.db" \
			"UPDATE settings SET value = json_set(value, '\$.boot_id', 'an-earlier-boot') WHERE slice = '$s'"
	done
	[ -f "$T_DIR/state/lxc/t92p.r1.img" ]
	restart_daemon
	[ "$(actions t92p)" = '["rebuilt"]' ]
	[ "$(actions t92n)" = '["removed"]' ]
	grep -q " $T_DIR/state/lxc/t92p.r1/rootfs .* - ext4 /dev/loop" /proc/self/mountinfo
	# the rootfs is rebuilt from the spec: the tenant's files do not survive a host restart
	run trellis slice exec t92p r1 -- cat /root/marker
	[ "$status" -ne 0 ]
	[ "$(trellis slice exec t92p r1 -- stat -f -c '%b' /)" -le $((16 << 10)) ]
	assert_no_disk_leftovers t92n
	assert_no_leftovers t92n
	trellis -q slice delete t92p
	assert_no_disk_leftovers t92p
}
