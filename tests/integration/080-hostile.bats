#!/usr/bin/env bats
# The hostile tenant: as root inside a router it tries to get out, and every
# attempt must fail.  Each probe runs in an FRR router and in a plain one,
# both from a process of the router itself (an agent its boot started) and
# from a 'trellis slice exec' session; every attempt and the kernel's answer
# go into the TAP stream as comments.  Also: exec and login sessions carry
# the router's confinement, an exec never hands the client's terminal to the
# router, and attaching processes cannot be read into.  Hostile names (spec
# and CLI operands) are at the end.

load helpers
bats_require_minimum_version 1.5.0

PROBE=/etc/trellis/hostile-probe

setup_file() {
	require_root
	command -v cc >/dev/null || skip "no C compiler (cc) for the probe"
	T_TPL=$(mktemp -d /tmp/trellis-test-080-tpl.XXXXXX)
	chmod 755 "$T_TPL"
	export T_TPL
	# Templates hfrr and hplain: frr and plain, plus a probe agent their boot
	# starts and the probe binary.
	for t in frr plain; do
		cp -a "$TRELLIS_SRC/container-templates/$t" "$T_TPL/h$t"
		cc -O2 -Wall -o "$T_TPL/h$t/rootfs/etc/trellis/hostile-probe" \
			"$TRELLIS_SRC/tests/integration/lib/hostile-probe.c"
		# the agent: a child of the boot, so a process of the router itself
		sed -i '1a /etc/trellis/hostile-probe agent /var/probe </dev/null >/dev/null 2>&1 &' \
			"$T_TPL/h$t/rootfs/etc/trellis/boot"
	done
	export T_EXTRA_TEMPLATES=$T_TPL
	start_daemon
	cat >"$T_DIR/t80a.yaml" <<EOS
slice: t80a
routers:
  r1:
    template: hfrr
    daemons: [ospfd]
    config: |
      router ospf
       network 10.0.12.0/24 area 0
  r2:
    template: hplain
    limits: {memory: 64M, pids: 64, cpu: 0.2}
links:
  - endpoints: [r1:eth1, r2:eth1]
    ipv4: [10.0.12.1/24, 10.0.12.2/24]
EOS
	cat >"$T_DIR/t80b.yaml" <<EOS
slice: t80b
routers:
  r1: {template: plain}
  r2: {template: plain}
links:
  - endpoints: [r1:eth1, r2:eth1]
    ipv4: [10.0.12.1/24, 10.0.12.2/24]
EOS
	trellis -q slice create -f "$T_DIR/t80a.yaml" >/dev/null
	trellis -q slice create -f "$T_DIR/t80b.yaml" >/dev/null
	for r in r1 r2; do
		wait_for 20 test -d "/proc/$(router_pid t80a $r)/root/var/probe" || {
			echo "probe agent of t80a/$r did not start" >&2
			return 1
		}
	done
}

teardown_file() {
	pkill -f "sleep 61\.0808" 2>/dev/null || true
	stop_daemon
	if [ -n "${T_TPL:-}" ]; then
		rm -rf "$T_TPL"
	fi
}

router_pid() { # slice router
	trellis --json slice show "$1" | jq -r --arg r "$2" '.routers[] | select(.name == $r) | .pid'
}

# Host pid of the router's boot process: init.lxc's first child (daemons
# that detach are reparented to init.lxc after it).
boot_pid() {
	local init
	init=$(router_pid "$1" "$2")
	awk '{print $1}' "/proc/$init/task/$init/children"
}

# Host pid of the probe agent (the boot's child running probe-agent).
agent_pid() {
	local p
	for p in $(pgrep -f "^/etc/trellis/hostile-probe agent"); do
		[ "$(readlink "/proc/$p/ns/pid")" = "$(readlink "/proc/$(router_pid "$1" "$2")/ns/pid")" ] && echo "$p"
	done
	return 0
}

# Run a shell script in the router through its probe agent; its output and
# exit status.
agent_run() { # slice router script
	local dir n rc
	# in the router's rootfs, a host directory: the host cannot create
	# files in the router's tmpfs /run (its root is not mapped there)
	dir="/proc/$(router_pid "$1" "$2")/root/var/probe"
	n="q$$.$RANDOM"
	printf '%s\n' "$3" >"$dir/$n.tmp"
	mv "$dir/$n.tmp" "$dir/$n.req"
	for _ in $(seq 600); do
		[ -e "$dir/$n.rc" ] && break
		sleep 0.05
	done
	if [ ! -e "$dir/$n.rc" ]; then
		echo "probe agent of $1/$2 did not answer" >&2
		return 125
	fi
	cat "$dir/$n.out"
	rc=$(cat "$dir/$n.rc")
	rm -f "$dir/$n".*
	return "$rc"
}

exec_run() { # slice router script
	trellis slice exec "$1" "$2" -- sh -c "$3"
}

# The routers and ways every probe is tried from.
WAYS="t80a:r1:agent t80a:r1:exec t80a:r2:agent t80a:r2:exec"

# One line of the TAP stream per attempt.
report() { # where description script status output
	echo "# [$1] $2: \`$(echo "$3" | tr '\n\t' '  ' | tr -s ' ' | cut -c1-160)\` -> exit $4: $(echo "$5" | tr '\n\t' '  ' | tr -s ' ' | cut -c1-200)" >&3
}

# refused DESCRIPTION SCRIPT: the script must fail everywhere.  A C probe
# exits 1 when refused (0 would be a hole, 2 a broken probe); a shell
# command must fail and must exist (126/127, command not runnable, and 125,
# agent not answering, do not count as refusals).
refused() {
	local desc=$1 script=$2 w s r how out rc bad=0
	for w in $WAYS; do
		IFS=: read -r s r how <<<"$w"
		rc=0
		out=$("${how}_run" "$s" "$r" "$script" 2>&1) || rc=$?
		report "$s/$r $how" "$desc" "$script" "$rc" "$out"
		if [ "$rc" -eq 0 ] || { [ "$rc" -ge 125 ] && [ "$rc" -le 127 ]; } || [[ "$out" == *SUCCEEDED* ]] ||
			{ [[ "$script" == "$PROBE"* ]] && [ "$rc" -ne 1 ]; }; then
			echo "NOT REFUSED in $s/$r ($how): $desc: $script -> exit $rc: $out" >&2
			bad=1
		fi
	done
	return "$bad"
}

# allowed DESCRIPTION SCRIPT: the script must succeed everywhere (the
# tenant's own things stay usable; checks that a refusal is not a breakage).
allowed() {
	local w s r how out rc bad=0
	for w in $WAYS; do
		IFS=: read -r s r how <<<"$w"
		rc=0
		out=$("${how}_run" "$s" "$r" "$2" 2>&1) || rc=$?
		report "$s/$r $how" "$1" "$2" "$rc" "$out"
		if [ "$rc" -ne 0 ]; then
			echo "FAILED in $s/$r ($how): $1: $2 -> exit $rc: $out" >&2
			bad=1
		fi
	done
	return "$bad"
}

# The fields of /proc/PID/status that make up confinement.
confinement() {
	grep -E '^(Seccomp|Seccomp_filters|NoNewPrivs|CapInh|CapPrm|CapEff|CapBnd|CapAmb):' "/proc/$1/status"
	echo "uid_map: $(tr -s ' ' <"/proc/$1/uid_map")"
	for ns in user pid net mnt uts ipc cgroup; do
		echo "ns $ns: $(readlink "/proc/$1/ns/$ns")"
	done
}

# v1 controller lines of /proc/PID/cgroup as they are; the v2 line reduced to
# whether it lies at or under the router's own cgroup.
cgroups_of() { # pid router-cgroup-path
	sed -E "s|^0::$2(/.*)?$|0::(the router's cgroup)|" "/proc/$1/cgroup"
}

@test "the probes run where they should: agent and exec sessions are router processes" {
	for r in r1 r2; do
		init=$(router_pid t80a "$r")
		agent=$(agent_pid t80a "$r")
		[ -n "$agent" ]
		# the agent descends from the router's boot, which descends from its init
		[ "$(awk '/^PPid:/ {print $2}' "/proc/$agent/status")" = "$(boot_pid t80a "$r")" ]
		run agent_run t80a "$r" 'hostname; cat /proc/1/comm'
		[ "$status" -eq 0 ]
		[ "${lines[0]}" = "$r" ]
		[ "${lines[1]}" = init.lxc ]
		run exec_run t80a "$r" "$PROBE nonsense"
		[ "$status" -eq 2 ] # the probe runs, and a broken probe is not a refusal
	done
}

@test "exec and login sessions get the seccomp filter, capabilities, namespaces and cgroup of the router" {
	command -v script >/dev/null || skip "script(1) not installed"
	for r in r1 r2; do
		init=$(router_pid t80a "$r")
		boot=$(boot_pid t80a "$r")
		agent=$(agent_pid t80a "$r")
		cg=$(awk -F: '$1 == "0" {print $3}' "/proc/$init/cgroup")
		want=$(confinement "$init")
		[[ "$want" == *"Seccomp:	2"* ]]
		[[ "$want" == *"Seccomp_filters:	1"* ]]
		# an exec session, found from the host by a unique command line
		trellis slice exec t80a "$r" -- sleep "7.$$" &
		wait_for 10 pgrep -f "^sleep 7\.$$\$" >/dev/null
		ex=$(pgrep -f "^sleep 7\.$$\$")
		# a login session on a terminal (script(1) gives the client one)
		{ echo "exec sleep 8.$$"; sleep 30; } |
			script -qfec "$TRELLIS_BIN --socket $T_SOCK slice login t80a $r" /dev/null >/dev/null &
		wait_for 10 pgrep -f "^sleep 8\.$$\$" >/dev/null
		lo=$(pgrep -f "^sleep 8\.$$\$")
		for p in "$boot" "$agent" "$ex" "$lo"; do
			echo "# t80a/$r pid $p ($(tr '\0' ' ' <"/proc/$p/cmdline")): $(confinement "$p" | grep -E 'Seccomp|CapEff|CapBnd' | tr '\n\t' '  ')" >&3
			diff <(echo "$want") <(confinement "$p")
			diff <(cgroups_of "$init" "$cg") <(cgroups_of "$p" "$cg")
		done
		kill "$ex" "$lo"
		wait || true
	done
}

@test "exec without a pty never hands the client's terminal to the router" {
	command -v script >/dev/null || skip "script(1) not installed"
	# The command: reports terminals among its fds, leaves a process behind
	# that waits for the next line typed on the client's terminal and then
	# writes an escape sequence to it, reads a line itself, exits 3.
	trellis slice exec t80a r2 -- sh -c 'cat >/tmp/tty-test.sh' <<'EOS'
[ -t 0 ] && echo "stdin is a terminal: $(readlink /proc/self/fd/0)"
[ -t 2 ] && echo "stderr is a terminal: $(readlink /proc/self/fd/2)"
exec 3<&0 4>&2
setsid sh -c 'sleep 1.5; read l <&3; echo "left behind, read: $l" >/tmp/keylog; printf "\033]0;owned\007LEFT-BEHIND-WROTE\n" >&4' </dev/null >/dev/null 2>&1 &
echo to-stderr >&2
read x
echo "command read: $x"
exit 3
EOS
	# The operator: stdin and stderr on a terminal, stdout to a file (so no
	# pty: the fds are passed), then a shell reading the next line.
	cat >"$T_DIR/tty.sh" <<EOS
$(printf '%q ' "$TRELLIS_BIN" --socket "$T_SOCK") slice exec t80a r2 -- sh /tmp/tty-test.sh >"$T_DIR/tty.out"
echo "exec exit \$?"
read line
echo "operator's shell read: \$line"
sleep 2
EOS
	run script -qec "sh $T_DIR/tty.sh" /dev/null < <(sleep 1; echo "for-the-command"; sleep 2; echo "operator-secret"; sleep 3)
	echo "# terminal: $(echo "$output" | tr -d '\r' | tr '\n' '|' | cat -v)" >&3
	echo "# command's stdout: $(tr '\n' '|' <"$T_DIR/tty.out")" >&3
	kl=$(trellis slice exec t80a r2 -- cat /tmp/keylog 2>/dev/null || true)
	echo "# the process left behind: ${kl:-read nothing}" >&3
	trellis slice exec t80a r2 -- rm -f /tmp/keylog /tmp/tty-test.sh
	[[ "$output" == *"exec exit 3"* ]]
	[[ "$output" == *"to-stderr"* ]]
	grep -q "command read: for-the-command" "$T_DIR/tty.out"
	refute_output_of "is a terminal" cat "$T_DIR/tty.out"
	[[ "$output" == *"operator's shell read: operator-secret"* ]]
	[[ "$kl" != *operator-secret* ]]
	[[ "$output" != *LEFT-BEHIND-WROTE* ]]
}

@test "a process entering the router (exec, login) cannot be read into before it runs the command" {
	# While 'trellis slice exec' attaches -- a fork of trellisd that enters
	# the router and then execs the command -- the tenant watches for new
	# processes and tries to read their executable and file descriptors.
	for w in $WAYS; do
		IFS=: read -r s r how <<<"$w"
		out="$T_DIR/window.$s.$r.$how"
		"${how}_run" "$s" "$r" "$PROBE attach-window 5" >"$out" 2>&1 &
		probe=$!
		sleep 0.5
		for _ in $(seq 30); do
			trellis slice exec "$s" "$r" -- true
		done
		rc=0
		wait "$probe" || rc=$?
		report "$s/$r $how" "read into attaching processes while 30 execs attach" "$PROBE attach-window 5" "$rc" "$(cat "$out")"
		if [ "$rc" -ne 1 ]; then
			cat "$out" >&2
			return 1
		fi
	done
}

@test "the shared /usr cannot be written or remounted" {
	before=$(stat -c %Y /usr/bin/true)
	refused "append to a host binary" 'true >>/usr/bin/true'
	refused "create a file in /usr" "touch /usr/.trellis-hostile-$$"
	refused "remount /usr read-write (mount(8))" 'mount -o remount,rw /usr'
	refused "remount /usr read-write (syscall)" "$PROBE remount-rw /usr"
	refused "clear the read-only mount attribute" "$PROBE mount-setattr-rw /usr"
	refused "unmount /usr" "$PROBE umount /usr"
	refused "clone the /usr mount" "$PROBE open-tree /usr"
	[ ! -e "/usr/.trellis-hostile-$$" ]
	[ "$(stat -c %Y /usr/bin/true)" = "$before" ]
	# ... while the router's own /tmp stays writable
	allowed "write the router's own /tmp" 'echo x >/tmp/own && rm /tmp/own'
}

@test "no mounts of any kind" {
	refused "mount a tmpfs" "$PROBE mount-tmpfs /mnt"
	refused "mount a tmpfs (mount(8))" 'mount -t tmpfs none /mnt'
	refused "mount proc" "$PROBE mount-proc /mnt"
	refused "bind-mount /usr" "$PROBE mount-bind /usr /mnt"
	refused "mount a cgroup hierarchy" 'mount -t cgroup -o pids none /mnt'
	refused "new mount API: fsopen" "$PROBE fsopen"
	refused "mount through the i386 entry point" "$PROBE ia32 mount"
	refused "mount through the x32 entry point" "$PROBE x32 mount"
	refused "fsopen through the i386 entry point" "$PROBE ia32 fsopen"
	grep -q " /mnt " /proc/self/mounts && {
		echo "something is mounted on the host's /mnt" >&2
		return 1
	}
	true
}

@test "no opening files by handle" {
	refused "open /usr's root by handle" "$PROBE handle /usr"
	refused "open / by handle" "$PROBE handle /"
	refused "forged handle (inode 2) on /usr's filesystem" "$PROBE handle-forge /usr"
	refused "forged handle (inode 2) on the rootfs's filesystem" "$PROBE handle-forge /"
	refused "open_by_handle_at through the i386 entry point" "$PROBE ia32 open_by_handle_at"
	refused "open_by_handle_at through the x32 entry point" "$PROBE x32 open_by_handle_at"
}

@test "no BPF, no perf events" {
	refused "load a BPF program" "$PROBE bpf-prog"
	refused "create a BPF map" "$PROBE bpf-map"
	refused "bpf() through the i386 entry point" "$PROBE ia32 bpf"
	refused "bpf() through the x32 entry point" "$PROBE x32 bpf"
	if [ -x /usr/sbin/bpftool ]; then
		refused "bpftool prog list" '/usr/sbin/bpftool prog list'
		refused "bpftool map create" '/usr/sbin/bpftool map create /tmp/m type array key 4 value 4 entries 1 name hostile'
	fi
	refused "perf_event_open" "$PROBE perf"
	refused "perf_event_open through the i386 entry point" "$PROBE ia32 perf_event_open"
}

@test "no kernel modules" {
	refused "init_module" "$PROBE init-module"
	refused "finit_module" "$PROBE finit-module /dev/null"
	refused "init_module through the i386 entry point" "$PROBE ia32 init_module"
	refused "finit_module through the i386 entry point" "$PROBE ia32 finit_module"
	refused "finit_module through the x32 entry point" "$PROBE x32 finit_module"
	refused "point the kernel's modprobe helper elsewhere" 'echo /tmp/x >/proc/sys/kernel/modprobe'
	if command -v modprobe >/dev/null; then
		refused "modprobe" 'modprobe dummy'
	fi
}

@test "no new user namespaces" {
	refused "unshare(CLONE_NEWUSER)" "$PROBE unshare-user"
	refused "clone(CLONE_NEWUSER)" "$PROBE clone-user"
	refused "clone3(CLONE_NEWUSER)" "$PROBE clone3-user"
	refused "unshare(CLONE_NEWUSER) through the i386 entry point" "$PROBE ia32 unshare"
	refused "clone(CLONE_NEWUSER) through the i386 entry point" "$PROBE ia32 clone"
	refused "unshare(CLONE_NEWUSER) through the x32 entry point" "$PROBE x32 unshare"
	refused "unshare(1) -U" 'unshare -U true'
	refused "unshare(1) -Ur" 'unshare -Ur id'
	# fork and threads (clone without the flag) still work
	allowed "fork and wait" 'sh -c "exit 0"'
}

@test "other slices' and the host's processes are invisible and cannot be signalled" {
	victims="$(cat "$T_DIR/trellisd.pid") $(router_pid t80b r1) $(boot_pid t80b r1) $(router_pid t80a r1) $$"
	for v in $victims; do
		kill -0 "$v" # they exist, seen from the host
		[ "$v" -gt 1000 ] || skip "host pid $v could collide with a pid inside a router"
		refused "signal host pid $v (kill -0)" "kill -0 $v"
		refused "signal host pid $v (kill -TERM)" "kill -TERM $v"
		refused "see host pid $v in /proc" "test -e /proc/$v"
	done
	# every process the router sees is in its own pid namespace
	for r in r1 r2; do
		ns=$(readlink "/proc/$(router_pid t80a "$r")/ns/pid")
		run exec_run t80a "$r" 'for p in /proc/[0-9]*; do readlink $p/ns/pid; cat $p/comm; done 2>/dev/null'
		echo "# t80a/$r sees: $(echo "$output" | grep -v '^pid:' | sort | uniq -c | tr -s ' \n' ' ')" >&3
		[ "$(echo "$output" | grep '^pid:' | sort -u)" = "$ns" ]
		[[ "$output" != *trellisd* ]]
		[[ "$output" != *lxc-start* ]]
	done
	kill -0 "$(router_pid t80b r1)"
}

@test "the host's and other slices' interfaces and qdiscs are out of reach" {
	hostif=$(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -v '^lo$' | grep -v '^t80' | head -1)
	before=$(tc qdisc show dev t80b.r1.eth1)
	for r in r1 r2; do
		run exec_run t80a "$r" 'ip -o link show | awk -F": " "{print \$2}" | cut -d@ -f1 | sort | tr "\n" " "; ls /sys/class/net | tr "\n" " "'
		echo "# t80a/$r interfaces: $output" >&3
		[ "$output" = "eth1 lo eth1 lo " ]
	done
	refused "add a qdisc on another slice's host end" 'tc qdisc add dev t80b.r1.eth1 root handle 1: htb'
	refused "add a qdisc on its own host end" 'tc qdisc add dev t80a.r1.eth1 root handle 1: htb'
	refused "take another slice's host end down" 'ip link set t80b.r1.eth1 down'
	[ -z "$hostif" ] || refused "take the host's '$hostif' down" "ip link set $hostif down"
	refused "enter the host's network namespace through /proc/1" \
		'nsenter --net=/proc/1/ns/net ip -o link show | grep t80b'
	refused "list named network namespaces" 'ls /run/netns/* /var/run/netns/*'
	hostns=$(readlink /proc/$$/ns/net)
	refused "find the host's network namespace under /proc" \
		"for p in /proc/[0-9]*; do readlink \$p/ns/net; done | grep -qx '$hostns'"
	[ "$(tc qdisc show dev t80b.r1.eth1)" = "$before" ]
	ip link show t80b.r1.eth1 | grep -q "state UP"
	# its own interface is its to change
	allowed "change its own interface" 'ip link set eth1 mtu 1400 && ip link set eth1 mtu 1500'
}

@test "cgroup limits: no limit file to raise, no cgroup to escape to, and the limits hold" {
	cgp=trellis/$T_NODE/t80a/r2
	[ "$(cat /sys/fs/cgroup/pids/$cgp/pids.max)" = 64 ]
	# whatever cgroup filesystem a router sees, its limit files stay put
	refused "raise its own limits" '
		n=0
		for m in $(awk "\$9 ~ /^cgroup/ {print \$5}" /proc/self/mountinfo); do
			for f in pids.max memory.limit_in_bytes memory.max cpu.cfs_quota_us cpu.max; do
				[ -e "$m/$f" ] || continue
				echo max >"$m/$f" && { echo "raised $m/$f"; n=$((n + 1)); }
			done
		done
		echo "cgroup mounts: $(awk "\$9 ~ /^cgroup/ {print \$5}" /proc/self/mountinfo | tr "\n" " ")"
		[ $n -gt 0 ]'
	refused "move itself to the root cgroup of a visible hierarchy" '
		n=0
		for m in $(awk "\$9 ~ /^cgroup/ {print \$5}" /proc/self/mountinfo); do
			echo $$ >"$m/cgroup.procs" && echo $$ >"$m/../cgroup.procs" && n=$((n + 1))
		done
		[ $n -gt 0 ] && ! grep -q "trellis" /proc/self/cgroup'
	[ "$(cat /sys/fs/cgroup/pids/$cgp/pids.max)" = 64 ]
	[ "$(cat /sys/fs/cgroup/memory/$cgp/memory.limit_in_bytes)" = $((64 << 20)) ]
	# pids: 100 sleepers from an exec session, at most 64 processes exist
	ev=$(awk '{print $2}' /sys/fs/cgroup/pids/$cgp/pids.events)
	trellis slice exec t80a r2 -- sh -c "for i in \$(seq 100); do sleep 61.0808 & done 2>/dev/null; true" || true
	cur=$(cat /sys/fs/cgroup/pids/$cgp/pids.current)
	echo "# t80a/r2 tried 100 sleepers: pids.current $cur, pids.max 64, refused forks $(($(awk '{print $2}' /sys/fs/cgroup/pids/$cgp/pids.events) - ev))" >&3
	pkill -f "sleep 61\.0808"
	[ "$cur" -le 64 ]
	[ "$(awk '{print $2}' /sys/fs/cgroup/pids/$cgp/pids.events)" -gt "$ev" ]
	wait_for 10 eval "[ \$(cat /sys/fs/cgroup/pids/$cgp/pids.current) -lt 20 ]"
	# memory: 200 MiB under a 64M limit never succeeds
	for how in agent exec; do
		rc=0
		out=$("${how}_run" t80a r2 "$PROBE alloc 200" 2>&1) || rc=$?
		echo "# [t80a/r2 $how] touch 200 MiB under memory 64M -> exit $rc: $(echo "$out" | tail -1)" >&3
		[ "$rc" -ne 0 ]
		[[ "$out" != *SUCCEEDED* ]]
	done
	# the agent survived (the OOM killer took the probe) or the test above
	# could not tell: the router must still answer
	run agent_run t80a r2 true
	[ "$status" -eq 0 ]
	# cpu: a busy loop for 2 s under cpu 0.2 gets at most ~0.4 s
	u0=$(cat /sys/fs/cgroup/cpuacct/$cgp/cpuacct.usage)
	trellis slice exec t80a r2 -- timeout 2 sh -c 'while :; do :; done' || true
	u1=$(cat /sys/fs/cgroup/cpuacct/$cgp/cpuacct.usage)
	echo "# t80a/r2 busy for 2 s under cpu 0.2: $(((u1 - u0) / 1000000)) ms of CPU" >&3
	[ $((u1 - u0)) -lt 700000000 ]
	# and nothing of the router left its cgroup
	init=$(router_pid t80a r2)
	for p in $(pgrep --ns "$init" --nslist pid .); do
		grep -q ":pids:/$cgp\$" "/proc/$p/cgroup"
	done
}

@test "no way to the host's kernel knobs" {
	refused "write a kernel sysctl" 'echo 1 >/proc/sys/kernel/sysrq'
	refused "magic SysRq" 'echo h >/proc/sysrq-trigger'
	refused "write a host-wide net sysctl (its current value back)" \
		'v=$(cat /proc/sys/net/core/rmem_max) && echo "$v" >/proc/sys/net/core/rmem_max'
	refused "harden or soften the BPF JIT" 'v=$(cat /proc/sys/net/core/bpf_jit_harden) && echo "$v" >/proc/sys/net/core/bpf_jit_harden'
	refused "write sysfs (its current value back)" 'v=$(cat /sys/kernel/mm/ksm/run) && echo "$v" >/sys/kernel/mm/ksm/run'
	refused "make a device node" 'mknod /tmp/sda b 8 0'
	refused "read the kernel log" 'dmesg'
	refused "set the clock" 'date -s "2001-01-01"'
	# its own network namespace's sysctls are its to set
	allowed "set its own net sysctl" 'echo 1 >/proc/sys/net/ipv4/ip_forward'
}

# --- hostile names -------------------------------------------------------------

# bad_spec NAME EXPECTED (spec on stdin): refused with exit 3 and the precise
# message, nothing built, the daemon still up.
bad_spec() {
	local f="$T_DIR/names-$1.yaml" before
	cat >"$f"
	before=$(ls "$T_DIR/state/lxc" | sort | tr '\n' ' ')
	run trellis slice create -f "$f"
	echo "# spec $1: exit $status: $output" >&3
	if [ "$status" -ne 3 ] || [[ "$output" != *"$2"* ]]; then
		echo "got exit $status: $output" >&2
		echo "want exit 3 and: $2" >&2
		return 1
	fi
	[ "$(ls "$T_DIR/state/lxc" | sort | tr '\n' ' ')" = "$before" ]
	[ "$(trellis --json slice list | jq -r '[.slices[].name] | sort | join(" ")')" = "t80a t80b" ]
	kill -0 "$(cat "$T_DIR/trellisd.pid")"
}

@test "hostile names in a spec: path components, very long, unicode, shell metacharacters, control characters" {
	long=$(printf 'a%.0s' $(seq 300))
	bad_spec slicedots "names-slicedots.yaml:1:8: slice: invalid slice name '../x': must start with a lowercase letter" <<'EOS'
slice: "../x"
routers:
  r1: {template: plain}
EOS
	bad_spec routerdots "names-routerdots.yaml:3:3: routers.../x: invalid router name '../x': must start with a lowercase letter" <<'EOS'
slice: t80n
routers:
  "../x": {template: plain}
EOS
	bad_spec ifdots "names-ifdots.yaml:6:17: links[0].endpoints[0]: invalid interface name '../x': must start with a lowercase letter" <<'EOS'
slice: t80n
routers:
  r1: {template: plain}
  r2: {template: plain}
links:
  - endpoints: ["r1:../x", "r2:eth1"]
EOS
	bad_spec template "names-template.yaml:3:18: routers.r1.template: invalid template '../../tmp/x': must start with a lowercase letter" <<'EOS'
slice: t80n
routers:
  r1: {template: ../../tmp/x}
EOS
	bad_spec node "names-node.yaml:3:31: routers.r1.node: invalid node name '../x': must start with a lowercase letter" <<'EOS'
slice: t80n
routers:
  r1: {template: plain, node: ../x}
EOS
	bad_spec long "names-long.yaml:1:8: slice: invalid slice name 'aaaa" <<EOS
slice: $long
routers:
  r1: {template: plain}
EOS
	[[ "$output" == *"...': must be at most 15 characters"* ]]
	[ "${#output}" -lt 300 ] # the name is cut short in the message
	bad_spec longrouter "names-longrouter.yaml:3:3: routers.aaaa" <<EOS
slice: t80n
routers:
  $long: {template: plain}
EOS
	bad_spec longif "invalid interface name 'ethxxxxxxxxxxxxxxxx1': must be at most 15 characters" <<'EOS'
slice: t80n
routers:
  r1: {template: plain}
  r2: {template: plain}
links:
  - endpoints: ["r1:ethxxxxxxxxxxxxxxxx1", "r2:eth1"]
EOS
	bad_spec unicode "names-unicode.yaml:3:3: routers.r??: invalid router name 'r??': may contain only lowercase letters, digits and '-'" <<'EOS'
slice: t80n
routers:
  "rü": {template: plain}
EOS
	bad_spec unicodeif "invalid interface name '??th1': must start with a lowercase letter" <<'EOS'
slice: t80n
routers:
  r1: {template: plain}
  r2: {template: plain}
links:
  - endpoints: ["r1:éth1", "r2:eth1"]
EOS
	bad_spec shell "invalid router name 'r1;touch /tmp/t80-pwned': may contain only lowercase letters, digits and '-'" <<'EOS'
slice: t80n
routers:
  "r1;touch /tmp/t80-pwned": {template: plain}
EOS
	bad_spec subst "invalid slice name '\$(touch /tmp/t80-pwned)': must start with a lowercase letter" <<'EOS'
slice: "$(touch /tmp/t80-pwned)"
routers:
  r1: {template: plain}
EOS
	bad_spec backtick "invalid slice name 'a\`touch /tmp/t80-pwned\`': may contain only" <<'EOS'
slice: "a`touch /tmp/t80-pwned`"
routers:
  r1: {template: plain}
EOS
	[ ! -e /tmp/t80-pwned ]
	bad_spec nul "names-nul.yaml:1:8: slice: contains a NUL character" <<'EOS'
slice: "t80n\0x"
routers:
  r1: {template: plain}
EOS
	bad_spec newline "invalid slice name 't80n?x': may contain only lowercase letters, digits and '-'" <<'EOS'
slice: "t80n\nx"
routers:
  r1: {template: plain}
EOS
	bad_spec dot "invalid router name 'a.b': may contain only lowercase letters, digits and '-'" <<'EOS'
slice: t80n
routers:
  a.b: {template: plain}
EOS
	bad_spec colon "links[0].endpoints[0]: expected router:ifname (e.g. r1:eth1), got 'r1:eth1:x'" <<'EOS'
slice: t80n
routers:
  r1: {template: plain}
  r2: {template: plain}
links:
  - endpoints: ["r1:eth1:x", "r2:eth1"]
EOS
	bad_spec empty "names-empty.yaml:3:3: routers.: invalid router name '': must not be empty" <<'EOS'
slice: t80n
routers:
  "": {template: plain}
EOS
	bad_spec number "invalid slice name '123': must start with a lowercase letter" <<'EOS'
slice: 123
routers:
  r1: {template: plain}
EOS
	bad_spec seq "names-seq.yaml:1:8: slice: expected a slice name, got a sequence" <<'EOS'
slice: [a]
routers:
  r1: {template: plain}
EOS
	assert_no_leftovers t80n
}

@test "hostile names as CLI operands: a precise error, nothing touched, the daemon stays up" {
	long=$(printf 'a%.0s' $(seq 300))
	for n in '../x' '../../etc/passwd' '/etc/passwd' "$long" 'rü' 'a;touch /tmp/t80-pwned' '$(touch /tmp/t80-pwned)' \
		'a b' '' 'x%s%n%n' "a'b" 'T80A' "$(printf 'a\nb')" 't80a.r1'; do
		shown=$(printf '%s' "$n" | tr '\n' '?' | cut -c1-64)
		for cmd in "slice show" "slice delete" "slice stats" "slice exec @ r1 -- true" "slice exec t80a @ -- true" \
			"slice login @ r1"; do
			args=()
			for w in $cmd; do
				[ "$w" = @ ] && w=$n
				args+=("$w")
			done
			[[ "$cmd" == *@* ]] || args+=("$n")
			if [[ "$cmd" == "slice login"* ]]; then
				# login wants a terminal before it asks the daemon
				command -v script >/dev/null || continue
				SHELL=/bin/bash run script -qec "$(printf '%q ' "$TRELLIS_BIN" --socket "$T_SOCK" "${args[@]}")" /dev/null </dev/null
				output=${output%$'\r'}
			else
				run trellis "${args[@]}" </dev/null
			fi
			echo "# trellis ${cmd//@/\'$shown\'}: exit $status: $(echo "${output:0:160}" | tr '\n' ' ')" >&3
			[ "$status" -eq 3 ]
			field="slice name"
			[[ "$cmd" == "slice exec t80a @"* ]] && field="router name"
			[[ "$output" == *"$field: '"*"' is not a valid name"* ]]
		done
	done
	[ ! -e /tmp/t80-pwned ]
	[ "$(trellis --json slice list | jq -r '[.slices[].name] | sort | join(" ")')" = "t80a t80b" ]
	run trellis --json slice show t80a
	[ "$(echo "$output" | jq -r .state)" = ready ]
	kill -0 "$(cat "$T_DIR/trellisd.pid")"
}

@test "names that look alike never collide in derived host names" {
	# 't80c' + 'r1-x' and 't80c-r1' + 'x' would both be 't80c-r1-x...' if the
	# separator could appear in names
	cat >"$T_DIR/t80c.yaml" <<'EOS'
slice: t80c
routers:
  r1-x: {template: plain}
  y: {template: plain}
links:
  - endpoints: [r1-x:eth1, y:eth1]
EOS
	cat >"$T_DIR/t80c-r1.yaml" <<'EOS'
slice: t80c-r1
routers:
  x: {template: plain}
  y: {template: plain}
links:
  - endpoints: [x:eth1, y:eth1]
EOS
	trellis -q slice create -f "$T_DIR/t80c.yaml" >/dev/null
	trellis -q slice create -f "$T_DIR/t80c-r1.yaml" >/dev/null
	h1=$(trellis --json slice show t80c | jq -r '[.routers[].interfaces[].host, .routers[].container] | sort | join(" ")')
	h2=$(trellis --json slice show t80c-r1 | jq -r '[.routers[].interfaces[].host, .routers[].container] | sort | join(" ")')
	echo "# t80c: $h1; t80c-r1: $h2" >&3
	[ -z "$(comm -12 <(echo "$h1" | tr ' ' '\n' | sort) <(echo "$h2" | tr ' ' '\n' | sort))" ]
	m1=$(trellis --json slice show t80c | jq -r '.routers[].interfaces[].mac' | sort)
	m2=$(trellis --json slice show t80c-r1 | jq -r '.routers[].interfaces[].mac' | sort)
	[ -z "$(comm -12 <(echo "$m1") <(echo "$m2"))" ]
	trellis -q slice delete t80c
	assert_no_leftovers t80c
	[ "$(trellis --json slice show t80c-r1 | jq -r .state)" = ready ]
	for h in $h2; do
		if [[ "$h" == *.eth1 ]]; then
			ip link show "$h" >/dev/null
		fi
	done
	trellis -q slice delete t80c-r1
	assert_no_leftovers t80c-r1
}
