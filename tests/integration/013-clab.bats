#!/usr/bin/env bats
# containerlab topologies: 'trellis slice create -f lab.clab.yml' maps what
# trellis can honour onto a slice and refuses the rest with the field and
# the reason.  The labs under clab/ are FRR labs written by hand in
# containerlab's format.

load helpers

CLAB="$BATS_TEST_DIRNAME/clab"

setup_file() {
	start_daemon
}

teardown_file() {
	stop_daemon
}

teardown() {
	for s in clabo everyf t13x; do
		trellis -q slice delete "$s" >/dev/null 2>&1 || true
	done
}

# A topology in $T_DIR/NAME.clab.yml from stdin; prints its path.
lab() {
	cat >"$T_DIR/$1.clab.yml"
	echo "$T_DIR/$1.clab.yml"
}

@test "an FRR OSPF lab in containerlab's format: frr.conf and daemons binds, links; OSPF converges" {
	run trellis slice create -f "$CLAB/frr-ospf/frr-ospf.clab.yml"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(trellis --json slice show clabo | jq -r .state)" = ready ]
	# daemons from the daemons files (zebra, staticd always run), configs from the frr.conf binds
	[ "$(trellis --json slice show clabo | jq -r '[.routers[] | .name + "=" + (.daemons | join(","))] | join(" ")')" = \
		"r1=ospfd r2=ospfd r3=ospfd" ]
	[ "$(trellis --json slice show clabo | jq '.links | length')" -eq 3 ]
	wait_for 60 sh -c "[ \$(\"$TRELLIS_BIN\" --socket '$T_SOCK' slice exec clabo r1 -- vtysh -c 'show ip ospf neighbor' | grep -c Full) -eq 2 ]"
	wait_for 30 "$TRELLIS_BIN" --socket "$T_SOCK" slice exec clabo r1 -- ping -c1 -W1 10.10.10.3
}

@test "every supported field: defaults, kinds.linux, mgmt ignored with a note, binds with modes" {
	run trellis slice create -f "$CLAB/every-field/every-field.clab.yml"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"every-field.clab.yml: note: mgmt: ignored"* ]]
	[[ "$output" == *"note: topology.nodes.a1.binds: 'cfg/vtysh.conf:/etc/frr/vtysh.conf:ro' ignored"* ]]
	# kinds.linux's daemons bind: bgpd in both; defaults' kind; each node's own frr.conf
	[ "$(trellis --json slice show everyf | jq -r '[.routers[] | .template + ":" + (.daemons | join(","))] | join(" ")')" = \
		"frr:bgpd frr:bgpd" ]
	wait_for 60 sh -c "\"$TRELLIS_BIN\" --socket '$T_SOCK' slice exec everyf a1 -- vtysh -c 'show bgp neighbors 10.113.0.2' | grep -q 'BGP state = Established'"
	trellis slice exec everyf a1 -- ping -c1 -W2 10.113.0.2
	# -q: no notes
	trellis -q slice delete everyf
	run trellis -q slice create --dry-run -f "$CLAB/every-field/every-field.clab.yml"
	[ "$status" -eq 0 ]
	[[ "$output" != *note* ]]
}

@test "what trellis cannot honour is refused with the field and the reason" {
	check() { # expected-substring, then the topology on stdin
		local f
		f=$(lab t13x)
		run trellis slice create --dry-run -f "$f"
		echo "$output"
		[ "$status" -eq 3 ]
		[[ "$output" == *"$1"* ]]
	}
	check "t13x.clab.yml:5:13: topology.nodes.r1.kind: 'ceos' is not supported" <<'EOF'
name: t13x
topology:
  nodes:
    r1:
      kind: ceos
      image: ceos:4.32
EOF
	check "topology.nodes.r1.image: 'alpine:3' cannot run as a trellis template" <<'EOF'
name: t13x
topology:
  nodes:
    r1: {kind: linux, image: "alpine:3"}
EOF
	check "topology.nodes.pc1: exec: trellis runs no commands in a router at start" <<'EOF'
name: t13x
topology:
  nodes:
    pc1:
      kind: linux
      image: frrouting/frr
      exec: ["ip addr add 10.0.0.2/24 dev eth1"]
EOF
	check "topology.links[0].endpoints: 'host:veth0': 'host' is not a node of the topology" <<'EOF'
name: t13x
topology:
  nodes:
    r1: {kind: linux, image: frrouting/frr}
  links:
    - endpoints: [r1:eth1, host:veth0]
EOF
	check "topology.nodes.r1.binds: '/etc/hosts': trellis binds only /etc/frr/frr.conf and /etc/frr/daemons" <<'EOF'
name: t13x
topology:
  nodes:
    r1:
      kind: linux
      image: frrouting/frr
      binds: [hosts:/etc/hosts]
EOF
	check "topology.nodes.R1: 'R1' cannot be a router name" <<'EOF'
name: t13x
topology:
  nodes:
    R1: {kind: linux, image: frrouting/frr}
EOF
	check "topology.nodes.r1: 'startup-config' is not supported" <<'EOF'
name: t13x
topology:
  nodes:
    r1: {kind: linux, image: frrouting/frr, startup-config: r1.cfg}
EOF
	check "topology.nodes.r1.binds: '/abs/frr.conf' is an absolute path" <<'EOF'
name: t13x
topology:
  nodes:
    r1: {kind: linux, image: frrouting/frr, binds: ["/abs/frr.conf:/etc/frr/frr.conf"]}
EOF
	check "name: missing" <<'EOF'
topology:
  nodes:
    r1: {kind: linux, image: frrouting/frr}
EOF
	# names too long for the host's interfaces: the daemon's check, on the translated spec
	check "t13x.clab.yml (translated):" <<'EOF'
name: t13x
topology:
  nodes:
    router1: {kind: linux, image: frrouting/frr}
    router2: {kind: linux, image: frrouting/frr}
  links:
    - endpoints: [router1:eth1, router2:eth1]
EOF
	[[ "$output" == *"IFNAMSIZ allows 15"* ]]
	[ "$(trellis --json slice list | jq '.slices | length')" -eq 0 ]
}

@test "a topology is recognised by content too, also from stdin" {
	run trellis slice create --dry-run -f - <"$CLAB/frr-ospf/frr-ospf.clab.yml"
	echo "$output"
	# stdin: bind paths are relative to the current directory, which has no r1/daemons
	[ "$status" -eq 3 ]
	[[ "$output" == *"daemons file"* ]]
	cd "$CLAB/frr-ospf"
	run trellis slice create --dry-run -f - <frr-ospf.clab.yml
	[ "$status" -eq 0 ]
	[[ "$output" == *"Slice 'clabo' is valid"* ]]
	cp frr-ospf.clab.yml "$T_DIR/topo.yml"
	cp -r r1 r2 r3 "$T_DIR/"
	run trellis slice create --dry-run -f "$T_DIR/topo.yml"
	[ "$status" -eq 0 ]
}
