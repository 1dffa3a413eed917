#!/usr/bin/env bats
# Tenant policy and what a tenant can no longer do (issue 10, attacks 4, 6,
# 9 and 10, and trellisd.conf names that do not exist).  Each attack is
# made for real, as a real non-root user driving the real CLI or the raw
# socket; on a build without the fixes each test fails.  One daemon for the
# file; plain-template routers.

load helpers
bats_require_minimum_version 1.5.0

# Run the CLI as test user $1.
as_user() {
	local u=$1
	shift
	runuser -u "$u" -- "$TRELLIS_BIN" --socket "$T_SOCK" "$@"
}

# A one-router plain slice NAME with router limits LIMITS ('' = none) in $T_DIR/NAME.yaml.
one_router() {
	local f="$T_DIR/$1.yaml"
	if [ -n "${2:-}" ]; then
		printf 'slice: %s\nrouters:\n  r1: {template: plain, limits: {%s}}\n' "$1" "$2" >"$f"
	else
		printf 'slice: %s\nrouters:\n  r1: {template: plain}\n' "$1" >"$f"
	fi
	chmod 644 "$f"
	echo "$f"
}

# Directory of cgroup REL (under trellis/NODE/) for controller CTRL.
cg() {
	if [ "$T_LAYOUT" = v1 ]; then
		echo "/sys/fs/cgroup/$1/trellis/$T_NODE/$2"
	else
		echo "/sys/fs/cgroup/trellis/$T_NODE/$2"
	fi
}

pids_max() { cat "$(cg pids "$1")/pids.max"; }
pids_current() { cat "$(cg pids "$1")/pids.current"; }
mem_max() {
	if [ "$T_LAYOUT" = v1 ]; then cat "$(cg memory "$1")/memory.limit_in_bytes"; else cat "$(cg memory "$1")/memory.max"; fi
}
cpu_quota() { # in microseconds per 100 ms period
	if [ "$T_LAYOUT" = v1 ]; then cat "$(cg cpu "$1")/cpu.cfs_quota_us"; else cut -d' ' -f1 "$(cg cpu "$1")/cpu.max"; fi
}
oom_kills() {
	if [ "$T_LAYOUT" = v1 ]; then
		awk '/^oom_kill / {print $2}' "$(cg memory "$1")/memory.oom_control"
	else
		awk '/^oom_kill / {print $2}' "$(cg memory "$1")/memory.events"
	fi
}

# Kill every process in the router cgroup REL (a fork bomb refills: rounds).
kill_cgroup() {
	local f p
	for _ in $(seq 50); do
		p=""
		for f in $(find "$(cg pids "$1")" -name cgroup.procs 2>/dev/null); do
			p="$p $(cat "$f" 2>/dev/null || true)"
		done
		p=$(echo $p)
		[ -n "$p" ] || return 0
		kill -KILL $p 2>/dev/null || true
		sleep 0.1
	done
}

setup_file() {
	require_root
	command -v useradd >/dev/null || skip "useradd not installed"
	export U1="t84a$$" U2="t84b$$"
	for u in "$U1" "$U2"; do
		useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u"
	done
	export T_CONF
	T_CONF=$(mktemp /tmp/trellis-test-084-conf.XXXXXX)
	# the built-in maxima and defaults, except a small tenant-max-slices
	cat >"$T_CONF" <<EOS
allow-tenant-create = yes
tenant-users = $U1, $U2
tenant-max-slices = 2
EOS
	chmod 644 "$T_CONF"
	# A build without the tenant policy (run-integration OLD-BUILD ...) refuses
	# the key: it then runs without it, so every attack below is still tried.
	if ! start_daemon --config "$T_CONF" 2>/dev/null; then
		grep -q "unknown key 'tenant-max-slices'" "$T_DIR/trellisd.log" || return 1
		rm -rf "$T_DIR"
		sed -i '/^tenant-max-slices/d' "$T_CONF"
		start_daemon --config "$T_CONF"
	fi
	T_LAYOUT=$(trellis --json node show | jq -r .cgroup_layout)
	export T_LAYOUT
}

teardown_file() {
	stop_daemon
	rm -f "$T_CONF"
	remove_test_users "${U1:-}" "${U2:-}"
}

teardown() {
	local s
	for s in $(trellis --json slice list 2>/dev/null | jq -r '.slices[].name' 2>/dev/null); do
		kill_cgroup "$s"
		trellis -q slice delete "$s" >/dev/null 2>&1 || true
	done
	rm -rf "${BAD_DIR:-/nonexistent-084}"
}

@test "trellisd.conf: unknown users and groups, and ssh-login without ssh-keys-user, are refused at start" {
	BAD_DIR=$(mktemp -d /tmp/trellis-test-084-bad.XXXXXX)
	chmod 711 "$BAD_DIR"
	bad="$BAD_DIR/trellisd.conf"
	# an old build starts on these: its own state dir and socket, and a timeout
	try() {
		run timeout 5 "$TRELLISD" --config "$bad" --state-dir "$BAD_DIR/state" --socket "$BAD_DIR/s.sock" \
			--node t84bad
		echo "$output"
	}
	printf 'allow-tenant-create = yes\ntenant-users = root, nosuchuser84\n' >"$bad"
	try
	[ "$status" -eq 2 ]
	[[ "$output" == *"$bad:2: tenant-users: no user 'nosuchuser84' on this host"* ]]
	printf '# groups\ntenant-groups = nosuchgroup84\n' >"$bad"
	try
	[ "$status" -eq 2 ]
	[[ "$output" == *"$bad:2: tenant-groups: no group 'nosuchgroup84' on this host"* ]]
	printf 'ssh-login = yes\nssh-keys-user = nosuchuser84\n' >"$bad"
	try
	[ "$status" -eq 2 ]
	[[ "$output" == *"$bad:2: ssh-keys-user: no user 'nosuchuser84' on this host"* ]]
	printf '\nssh-login = yes\n' >"$bad"
	try
	[ "$status" -eq 2 ]
	[[ "$output" == *"$bad:2: ssh-login: yes needs ssh-keys-user"* ]]
	printf 'tenant-max-memory = 128M\ntenant-default-memory = 512M\n' >"$bad"
	try
	[ "$status" -eq 2 ]
	[[ "$output" == *"$bad:2: tenant-default-memory: the default memory 512M is above the maximum 128M (tenant-max-memory)"* ]]
}

@test "attack 4: a tenant's router gets the default limits; limits above the maxima are refused and leave nothing" {
	as_user "$U1" -q slice create -f "$(one_router t84a)"
	# the documented defaults: a quarter core, 256M, 512 pids
	echo "# tenant router, no limits declared: pids.max $(pids_max t84a/r1) memory $(mem_max t84a/r1) cpu quota $(cpu_quota t84a/r1)" >&3
	[ "$(pids_max t84a/r1)" = 512 ]
	[ "$(mem_max t84a/r1)" = $((256 << 20)) ]
	[ "$(cpu_quota t84a/r1)" = 25000 ]
	run trellis --json slice show t84a
	[ "$(echo "$output" | jq -r '.routers[0].limits.pids')" = 512 ]
	# a tenant declaring more than the maxima is refused, naming the key
	run as_user "$U1" slice create -f "$(one_router t84b 'memory: 8G')"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"routers.r1.limits.memory: 8G exceeds the tenant maximum 1G (trellisd.conf tenant-max-memory)"* ]]
	run as_user "$U1" slice create -f "$(one_router t84b 'pids: 100000')"
	[ "$status" -ne 0 ]
	[[ "$output" == *"routers.r1.limits.pids: 100000 exceeds the tenant maximum 4096 (trellisd.conf tenant-max-pids)"* ]]
	run as_user "$U1" slice create -f "$(one_router t84b 'cpu: 2.5')"
	[ "$status" -ne 0 ]
	[[ "$output" == *"routers.r1.limits.cpu: 2.5 exceeds the tenant maximum 2 (trellisd.conf tenant-max-cpu)"* ]]
	printf 'slice: t84b\nrouter-defaults:\n  limits: {pids: 5000}\nrouters:\n  r1: {template: plain}\n' >"$T_DIR/t84b.yaml"
	run as_user "$U1" slice create -f "$T_DIR/t84b.yaml"
	[ "$status" -ne 0 ]
	[[ "$output" == *"router-defaults.limits.pids: 5000 (router 'r1') exceeds the tenant maximum 4096 (trellisd.conf tenant-max-pids)"* ]]
	# ... and leaves nothing behind
	[ "$(trellis --json slice list | jq '[.slices[] | select(.name == "t84b")] | length')" = 0 ]
	[ ! -e "$(cg pids t84b)" ]
	[ -z "$(ls "$(trellis --json node show | jq -r .lxcpath)" | grep '^t84b\.' || true)" ]
	# slice set keeps a tenant within the maxima too
	run as_user "$U1" slice set t84a --router r1 --memory 2G
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"memory: router 'r1': 2G exceeds the tenant maximum 1G (trellisd.conf tenant-max-memory)"* ]]
	[ "$(mem_max t84a/r1)" = $((256 << 20)) ]
	as_user "$U1" -q slice set t84a --router r1 --memory 512M
	[ "$(mem_max t84a/r1)" = $((512 << 20)) ]
	# at most tenant-max-slices (2) slices per tenant
	as_user "$U1" -q slice create -f "$(one_router t84c)"
	run as_user "$U1" slice create -f "$(one_router t84d)"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"you have 2 slices on node '$T_NODE', the tenant maximum (trellisd.conf tenant-max-slices)"* ]]
	[ "$(trellis --json slice list | jq '[.slices[] | select(.name == "t84d")] | length')" = 0 ]
	# root's slices are not bound by the tenant policy, and get no defaults
	trellis -q slice create -f "$(one_router t84r 'memory: 2G')"
	[ "$(mem_max t84r/r1)" = $((2 << 30)) ]
	run trellis slice set t84r --router r1 --memory 3G
	[ "$status" -eq 0 ]
}

@test "attack 4: a fork bomb and a memory hog in a tenant's router stay inside it" {
	as_user "$U1" -q slice create -f "$(one_router t84h)"
	# the bound must be there before the bomb goes off (no bomb on an unlimited router)
	[ "$(pids_max t84h/r1)" = 512 ]
	[ "$(mem_max t84h/r1)" = $((256 << 20)) ]
	# memory hog: 400M asked, 256M allowed: OOM-killed inside the router
	before=$(oom_kills t84h/r1)
	run timeout 60 runuser -u "$U1" -- "$TRELLIS_BIN" --socket "$T_SOCK" slice exec t84h r1 -- \
		python3 -c "x = b'x' * (400 << 20); print('survived')"
	echo "# memory hog (asks 400M, default 256M): exit $status, oom_kill $before -> $(oom_kills t84h/r1)" >&3
	[ "$status" -eq 137 ]
	[[ "$output" != *survived* ]]
	[ "$(oom_kills t84h/r1)" -gt "$before" ]
	run trellis --json slice stats t84h
	[ "$(echo "$output" | jq '.routers[] | select(.name == "r1") | .usage.oom_kills')" -gt 0 ]
	# fork bomb: bash retries a failed fork, so it holds every slot it gets
	runuser -u "$U1" -- "$TRELLIS_BIN" --socket "$T_SOCK" slice exec t84h r1 -- \
		timeout 30 bash -c 'bomb() { bomb & bomb & wait; }; bomb' </dev/null >/dev/null 2>&1 3>&- &
	bomb_cli=$!
	wait_for 20 eval '[ "$(pids_current t84h/r1)" -ge 500 ]'
	peak=0
	for _ in $(seq 10); do
		c=$(pids_current t84h/r1)
		[ "$c" -gt "$peak" ] && peak=$c
		sleep 0.2
	done
	# the host still forks and root's CLI answers promptly
	t0=$(date +%s%N)
	run timeout 10 sh -c 'for i in 1 2 3 4 5 6 7 8; do /bin/true & done; wait; echo ok'
	[ "$output" = ok ]
	run timeout 10 "$TRELLIS_BIN" --socket "$T_SOCK" slice list
	[ "$status" -eq 0 ]
	ms=$((($(date +%s%N) - t0) / 1000000))
	echo "# fork bomb in the tenant's router: pids.current peaked at $peak of pids.max $(pids_max t84h/r1); host fork + root's slice list took $ms ms" >&3
	[ "$peak" -le 512 ]
	[ "$ms" -lt 5000 ]
	kill_cgroup t84h
	kill "$bomb_cli" 2>/dev/null || true
	wait "$bomb_cli" 2>/dev/null || true
}

@test "attack 6: a tenant cannot pass its own placement (link keys, remote nodes)" {
	spec=$(one_router t84p)
	# the raw request the multi-node CLI sends, from a tenant: a key of 2^32-1
	# and a node at an address of its choosing
	cat >"$T_DIR/place.py" <<'EOS'
import json, socket, sys
spec = open(sys.argv[2]).read()
req = {"op": "slice.create", "spec": spec, "filename": "t84p.yaml",
       "placement": {"nodes": {"evil": {"address": "203.0.113.9"}},
                     "keys": {"r1:eth1-r2:eth1": 4294967295}}}
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall((json.dumps(req) + "\n").encode())
buf = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    buf += d
print(buf.decode())
EOS
	chmod 644 "$T_DIR/place.py"
	printf 'slice: t84p\nrouters:\n  r1: {template: plain}\n  r2: {template: plain}\nlinks:\n  - {endpoints: [r1:eth1, r2:eth1]}\n' >"$spec"
	run runuser -u "$U1" -- timeout 30 python3 "$T_DIR/place.py" "$T_SOCK" "$spec"
	echo "$output"
	[[ "$output" == *"placement: permission denied"* ]]
	[ "$(trellis --json slice list | jq '[.slices[] | select(.name == "t84p")] | length')" = 0 ]
	# the node's published highest key is not the tenant's
	[ "$(trellis --json node show | jq .max_key)" != 4294967295 ]
	# root may place (the multi-node CLI does), but only keys the node can use
	run timeout 30 python3 "$T_DIR/place.py" "$T_SOCK" "$spec"
	echo "$output"
	[[ "$output" == *"placement: keys: link 'r1:eth1-r2:eth1': key 4294967295 is not from 1 to 32751"* ]]
	[ "$(trellis --json node show | jq .max_key)" != 4294967295 ]
}

@test "link keys are drawn at random, bounded, and listed to root only" {
	f="$T_DIR/t84k.yaml"
	printf 'slice: t84k\nrouters:\n  a: {template: plain}\n  b: {template: plain}\n  c: {template: plain}\nlinks:\n  - {endpoints: [a:eth1, b:eth1]}\n  - {endpoints: [b:eth2, c:eth1]}\n  - {endpoints: [c:eth2, a:eth2]}\n' >"$f"
	trellis -q slice create -f "$f"
	keys=$(trellis --json slice show t84k | jq -r '[.links[].key] | sort | map(tostring) | join(" ")')
	echo "# link keys of a fresh node's first slice: $keys" >&3
	[ "$keys" != "1 2 3" ]
	for k in $keys; do [ "$k" -ge 1 ] && [ "$k" -le 32751 ]; done
	[ "$(echo "$keys" | tr ' ' '\n' | sort -u | wc -l)" = 3 ]
	# root's node show lists the keys in use (the multi-node CLI avoids them); a tenant's does not
	[ "$(trellis --json node show | jq -r '.keys | map(tostring) | join(" ")')" = "$keys" ]
	run as_user "$U1" --json node show
	[ "$(echo "$output" | jq '.keys, .max_key')" = "$(printf 'null\nnull')" ]
}

@test "attack 9: node show, slice list and slice show name no other tenant's slice" {
	as_user "$U2" -q slice create -f "$(one_router t84x)"
	as_user "$U1" -q slice create -f "$(one_router t84y)"
	# the router of t84x dies while the daemon is down: the start-up reconcile
	# report names t84x (it restarts it)
	pid=$(trellis --json slice show t84x | jq -r '.routers[0].pid')
	kill -KILL "$pid"
	wait_for 10 eval "! kill -0 $pid 2>/dev/null"
	restart_daemon
	run trellis --json node show
	[[ "$output" == *t84x* ]]	# root sees it: the report does name slices
	run as_user "$U1" --json node show
	[ "$status" -eq 0 ]
	echo "$output" | jq -c .reconcile
	[[ "$output" != *t84x* ]]
	[ "$(echo "$output" | jq .slices)" = 1 ]
	run as_user "$U1" node show
	[[ "$output" != *t84x* ]]
	run as_user "$U1" --json slice list
	[[ "$output" != *t84x* ]]
	[[ "$output" == *t84y* ]]
	# another tenant's slice reads exactly like a missing one
	run as_user "$U1" slice show t84x
	missing_status=$status
	a=$(echo "$output" | sed 's/t84x/NAME/g')
	run as_user "$U1" slice show t84nosuch
	[ "$status" = "$missing_status" ]
	[ "$(echo "$output" | sed 's/t84nosuch/NAME/g')" = "$a" ]
}

@test "attack 10: a router's /etc holds no host secret and nothing off the allowlist" {
	trellis -q slice create -f "$(one_router t84e)"
	run trellis slice exec t84e r1 -- find /etc -mindepth 1 \( -type f -o -type l \) -not -path '/etc/alternatives/*'
	[ "$status" -eq 0 ]
	files=$output
	echo "$files"
	[ -n "$files" ]
	# /etc/alternatives is the host's, shared read-only: symlinks into /usr (and Debian's README), nothing else
	run trellis slice exec t84e r1 -- find /etc/alternatives -mindepth 1 -not -type l -not -path /etc/alternatives/README
	[ "$status" -eq 0 ]
	echo "not a symlink in /etc/alternatives: $output"
	[ -z "$output" ]
	# secrets of any kind, by name
	deny='shadow|gshadow|opasswd|passwd-|group-|sudoers|ssh_host|/ssh/|\.key$|\.pem$|keytab|/ssl/|private|credential|secret|machine-id|/security/'
	run grep -E "$deny" <<<"$files"
	echo "denied: $output"
	[ -z "$output" ]
	# and only what trellis writes, the template brings or the allowlist copies
	allow='^/etc/(passwd|group|hostname|hosts|nsswitch\.conf|resolv\.conf|trellis/router|trellis/boot|profile|bash\.bashrc|inputrc|environment|shells|login\.defs|ld\.so\.cache|ld\.so\.conf|protocols|services|localtime|os-release|debian_version|iproute2/(rt_tables|rt_protos|rt_scopes|rt_realms|rt_dsfield|group|ematch_map|nl_protos|bpf_pinning|rt_protos\.d/frr\.conf)|vim/vimrc|pam\.d/(other|common-auth|common-account|common-password|common-session|common-session-noninteractive))$'
	run grep -vE "$allow" <<<"$files"
	echo "off the allowlist: $output"
	[ -z "$output" ]
	# what routing needs is still there
	[[ "$files" == *"/etc/iproute2/rt_tables"* ]]
	run trellis slice exec t84e r1 -- ip route show table main
	[ "$status" -eq 0 ]
}
