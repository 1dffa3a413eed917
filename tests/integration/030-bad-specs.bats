#!/usr/bin/env bats
# Bad specs are refused with file:line:col, the field and the reason, exit 3,
# and never reach the kernel: no container, veth, cgroup, log or state row.

load helpers

setup_file() {
	start_daemon
}

teardown_file() {
	stop_daemon
}

# try_spec NAME EXPECTED-SUBSTRING  (spec text on stdin)
try_spec() {
	local f="$T_DIR/$1.yaml"
	cat >"$f"
	run trellis slice create -f "$f"
	if [ "$status" -ne 3 ]; then
		echo "exit $status, want 3: $output" >&2
		return 1
	fi
	if [[ "$output" != *"$2"* ]]; then
		echo "got: $output" >&2
		echo "want: $2" >&2
		return 1
	fi
	assert_no_leftovers t30a
	[ -z "$(ls -A "$T_DIR/state/lxc")" ]
	[ -z "$(ls -A "$T_DIR/state/log" 2>/dev/null)" ]
}

@test "an endpoint naming no router" {
	try_spec endpoint "endpoint.yaml:6:26: links[0].endpoints[1]: router 'r3' is not defined" <<'EOS'
slice: t30a
routers:
  r1: {template: plain}
  r2: {template: plain}
links:
  - endpoints: [r1:eth1, r3:eth1]
EOS
}

@test "an unknown key, with a suggestion" {
	try_spec unknown "unknown.yaml:2:1: router: unknown key 'router' (did you mean 'routers'?)" <<'EOS'
slice: t30a
router:
  r1: {template: plain}
EOS
}

@test "YAML syntax errors" {
	try_spec syntax "syntax.yaml:4:1: syntax error: missing comma in flow mapping" <<'EOS'
slice: t30a
routers:
  r1: {template: plain
EOS
}

@test "a bad slice name, and one whose host interface names would not fit IFNAMSIZ" {
	try_spec badname "badname.yaml:1:8: slice:" <<'EOS'
slice: T30_a
routers:
  r1: {template: plain}
EOS
	try_spec toolong "IFNAMSIZ" <<'EOS'
slice: t30a
routers:
  router1: {template: plain}
  r2: {template: plain}
links:
  - endpoints: [router1:eth1, r2:eth1]
EOS
}

@test "duplicate routers and interfaces" {
	try_spec duprouter "duprouter.yaml:4:3: routers.r1: duplicate router 'r1'" <<'EOS'
slice: t30a
routers:
  r1: {template: plain}
  r1: {template: plain}
EOS
	try_spec dupif "dupif.yaml:7:17: links[1].endpoints[0]: interface 'r1:eth1' is already used by links[0]" <<'EOS'
slice: t30a
routers:
  r1: {template: plain}
  r2: {template: plain}
links:
  - endpoints: [r1:eth1, r2:eth1]
  - endpoints: [r1:eth1, r2:eth2]
EOS
}

@test "malformed and overlapping addresses" {
	try_spec noprefix "noprefix.yaml:7:12: links[0].ipv4[0]" <<'EOS'
slice: t30a
routers:
  r1: {template: plain}
  r2: {template: plain}
links:
  - endpoints: [r1:eth1, r2:eth1]
    ipv4: [10.0.12.1, 10.0.12.2/24]
EOS
	try_spec subnet "subnet.yaml:7:" <<'EOS'
slice: t30a
routers:
  r1: {template: plain}
  r2: {template: plain}
links:
  - endpoints: [r1:eth1, r2:eth1]
    ipv4: [10.0.12.1/24, 10.0.13.2/24]
EOS
	try_spec overlap "overlaps links[0]" <<'EOS'
slice: t30a
routers:
  r1: {template: plain}
  r2: {template: plain}
  r3: {template: plain}
links:
  - endpoints: [r1:eth1, r2:eth1]
    ipv4: [10.0.12.1/24, 10.0.12.2/24]
  - endpoints: [r2:eth2, r3:eth1]
    ipv4: [10.0.12.5/24, 10.0.12.6/24]
EOS
}

@test "bad rates and impossible limits" {
	try_spec rate "rate.yaml:7:11: links[0].rate: '10kbs' is not a rate (try 10mbit)" <<'EOS'
slice: t30a
routers:
  r1: {template: plain}
  r2: {template: plain}
links:
  - endpoints: [r1:eth1, r2:eth1]
    rate: 10kbs
EOS
	try_spec memory "memory.yaml:3:42: routers.r1.limits.memory: memory '1M' is below the 16M a router needs" <<'EOS'
slice: t30a
routers:
  r1: {template: plain, limits: {memory: 1M}}
EOS
	try_spec cpu "routers.r1.limits.cpu" <<'EOS'
slice: t30a
routers:
  r1: {template: plain, limits: {cpu: -1}}
EOS
	try_spec pids "routers.r1.limits.pids" <<'EOS'
slice: t30a
routers:
  r1: {template: plain, limits: {pids: 3}}
EOS
}

@test "routing config on a plain router, unknown FRR daemons, missing config files" {
	try_spec plaincfg "template 'plain' runs no routing stack" <<'EOS'
slice: t30a
routers:
  r1:
    template: plain
    config: "router ospf"
EOS
	try_spec daemon "routers.r1.daemons" <<'EOS'
slice: t30a
routers:
  r1:
    daemons: [ospfd, nosuchd]
EOS
	try_spec cfgfile "nope.conf" <<'EOS'
slice: t30a
routers:
  r1:
    config-file: nope.conf
EOS
}

@test "an empty file and a file that is not a mapping" {
	try_spec empty "empty.yaml" </dev/null
	try_spec list "list.yaml:1:1" <<'EOS'
- slice: t30a
EOS
}

@test "a huge spec is refused" {
	f="$T_DIR/huge.yaml"
	{ echo "slice: t30a"; echo "description: |"; head -c 6000000 /dev/zero | tr '\0' 'x' | fold -w 100 | sed 's/^/  /'; } >"$f"
	run trellis slice create -f "$f"
	[ "$status" -eq 3 ]
	[[ "$output" == *"huge.yaml"* ]]
	assert_no_leftovers t30a
	trellis node show >/dev/null
}
