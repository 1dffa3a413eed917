#!/usr/bin/env bats
# slice graph and slice save on every example in examples/:
#  - graph: the DOT parses with Graphviz (dot -Tsvg), --format svg is
#    well-formed XML, the Mermaid text matches a golden file
#    (tests/integration/golden/110-*.mmd, the node's name replaced by NODE;
#    regenerate with T110_REGOLD=1), --stats adds each direction's rate;
#  - save round trip: save, delete, create from the saved spec, and the same
#    running configurations (FRR: vtysh 'show running-config'; BIRD: its
#    /etc/bird/spec.conf) and the same 'slice show --json' (but for what a
#    create draws afresh: created, uid_base, PIDs, link keys); live changes
#    (link set, slice set) survive it;
#  - tenants graph and save their own slices and nothing of another's.

load helpers
source "$BATS_TEST_DIRNAME/lib/testbed.bash"
bats_require_minimum_version 1.5.0

TB=t11	# the multi-node test's testbed prefix

GOLDEN="$BATS_TEST_DIRNAME/golden"

setup_file() {
	start_daemon
	export T110_OUT="$T_DIR/out"
	mkdir -p "$T110_OUT"
}

teardown_file() {
	testbed_down "$TB"
	stop_daemon
}

teardown() {
	for s in t110p t110r t110t t110m t110u t110v; do
		trellis -q slice delete "$s" >/dev/null 2>&1 || true
	done
}

need_dot() {
	command -v dot >/dev/null || skip "Graphviz's dot is not installed (scripts/install-deps.sh installs graphviz)"
}

# 'slice show --json' without what every create draws afresh.
show_norm() {
	trellis --json slice show "$1" |
		jq -S 'del(.created, .uid_base) | .routers[] |= del(.pid) | .links[] |= del(.key)'
}

# Each router's running configuration, one file per router in $2.
configs_of() { # slice dir
	local r tpl
	mkdir -p "$2"
	trellis --json slice show "$1" | jq -r '.routers[] | "\(.name) \(.template)"' | while read -r r tpl; do
		case $tpl in
		frr) trellis slice exec "$1" "$r" -- vtysh -c 'show running-config' >"$2/$r" ;;
		bird) trellis slice exec "$1" "$r" -- cat /etc/bird/spec.conf >"$2/$r" ;;
		esac
	done
}

# graph in every format, checked; then the save round trip.
graph_and_round_trip() { # example slice
	local ex=$1 s=$2 d="$T110_OUT/$2"
	trellis -q slice create -f "$(example_as "$ex.yaml" "$s")" >/dev/null
	mkdir -p "$d"

	# DOT that Graphviz reads, and SVG that is XML
	trellis slice graph "$s" >"$d/g.dot"
	grep -q "label=\"node $T_NODE\"" "$d/g.dot"
	dot -Tsvg "$d/g.dot" >"$d/from-dot.svg"
	trellis slice graph "$s" --format svg >"$d/g.svg"
	python3 -c 'import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); assert r.tag.endswith("svg"), r.tag' "$d/g.svg"
	# every router is drawn
	for r in $(trellis --json slice show "$s" | jq -r '.routers[].name'); do
		grep -q "<title>$r</title>" "$d/g.svg"
	done
	# Mermaid as in the golden file
	trellis slice graph "$s" --format mermaid | sed "s/node $T_NODE/node NODE/" >"$d/g.mmd"
	if [ -n "${T110_REGOLD:-}" ]; then
		cp "$d/g.mmd" "$GOLDEN/110-$ex.mmd"
	fi
	diff -u "$GOLDEN/110-$ex.mmd" "$d/g.mmd"

	# save -> delete -> create -> the same
	show_norm "$s" >"$d/show.before"
	configs_of "$s" "$d/conf.before"
	t0=$(date +%s%N)
	trellis -q slice save "$s" -o "$d/saved"
	t1=$(date +%s%N)
	trellis slice graph "$s" --format svg --stats >/dev/null
	t2=$(date +%s%N)
	echo "# $ex: save $(( (t1 - t0) / 1000000 )) ms, graph --format svg --stats $(( (t2 - t1) / 1000000 )) ms" >&3
	[ -f "$d/saved/$s.yaml" ]
	trellis -q slice delete "$s"
	assert_no_leftovers "$s"
	trellis -q slice create -f "$d/saved/$s.yaml" >/dev/null
	show_norm "$s" >"$d/show.after"
	diff -u "$d/show.before" "$d/show.after"
	configs_of "$s" "$d/conf.after"
	diff -ru "$d/conf.before" "$d/conf.after"
	[ -n "$(ls "$d/conf.after")" ]
	trellis -q slice delete "$s"
	assert_no_leftovers "$s"
}

@test "examples/ospf-pair.yaml: graph (dot, svg, mermaid) and save round trip" {
	need_dot
	graph_and_round_trip ospf-pair t110p
	# config-file: r2's came from pair-r2.conf; the saved one is its running config
	grep -q 'ospf router-id 10.255.0.2' "$T110_OUT/t110p/saved/r2.conf"
	grep -q 'config-file: r2.conf' "$T110_OUT/t110p/saved/t110p.yaml"
}

@test "examples/ospf-ring.yaml: graph and save round trip (a shaped link, per-router limits)" {
	need_dot
	graph_and_round_trip ospf-ring t110r
	grep -q 'rate: 100mbit' "$T110_OUT/t110r/saved/t110r.yaml"
}

@test "examples/bgp-triangle.yaml: graph and save round trip" {
	need_dot
	graph_and_round_trip bgp-triangle t110t
}

@test "examples/bgp-mixed.yaml: graph and save round trip with a BIRD router" {
	need_dot
	[ -x /usr/sbin/bird ] || skip "bird2 is not installed (scripts/install-deps.sh installs it)"
	graph_and_round_trip bgp-mixed t110m
	# the BIRD router's file is BIRD's config, and the spec has no daemons: for it
	grep -q 'protocol bgp r1' "$T110_OUT/t110m/saved/r2.conf"
	[ "$(sed -n '/^  r2:/,/^  r3:/p' "$T110_OUT/t110m/saved/t110m.yaml" | grep -c daemons || true)" = 0 ]
	grep -q 'template: bird' "$T110_OUT/t110m/saved/t110m.yaml"
}

@test "save keeps live changes: link set, slice set, a link taken down; graph --stats shows rates and drops" {
	need_dot
	d="$T110_OUT/live"
	trellis -q slice create -f "$(example_as ospf-pair.yaml t110p)" >/dev/null
	trellis -q link set t110p r1:eth1-r2:eth1 --rate 20mbit --ceil 30mbit --burst 20k --loss 2.5%
	trellis -q slice set t110p --router r1 --memory 200M --pids 300
	trellis -q slice set t110p --memory 1G --cpu-weight 200
	trellis -q slice set t110p --bandwidth 40mbit --ceil 80mbit
	# a change made inside the router is part of its running config
	trellis slice exec t110p r1 -- vtysh -c 'configure terminal' -c 'router ospf' -c 'timers throttle spf 10 20 30'
	# traffic for the counters: 400 frames at 2.5% loss, none dropped has odds 0.975^400 = 4e-5
	trellis slice exec t110p r1 -- ping -q -c 200 -i 0.005 -W 1 10.0.12.2 || true
	run trellis slice graph t110p --stats
	[ "$status" -eq 0 ]
	[[ "$output" == *"20Mbit ceil 30Mbit burst 20K, loss 2.5%"* ]]
	[[ "$output" == *"r1 → r2 "*"bit/s"* ]]
	[[ "$output" == *"r2 → r1 "*"bit/s"* ]]
	drops=$(echo "$output" | grep -o 'drops [0-9]*' | head -1 | cut -d' ' -f2)
	echo "# drops after 200 pings at 2.5% loss: $drops" >&3
	[ "$drops" -ge 1 ]
	echo "$output" | dot -Tsvg >/dev/null
	# the text view shows what the JSON has
	run trellis slice show t110p
	[[ "$output" == *"Description:"*"Two OSPF routers on one link"* ]]
	[[ "$output" == *"Bandwidth:"*"40Mbit (ceil 80Mbit)"* ]]
	[[ "$output" == *"10.255.0.1/32"* ]]
	[[ "$output" == *"20Mbit"*"30Mbit"*"20K"*"loss 2.5%"* ]]
	trellis -q link down t110p r1:eth1-r2:eth1
	run trellis slice graph t110p --format mermaid
	[[ "$output" == *" -.-|"*"admin-down"* ]]

	show_norm t110p >"$d.before"
	configs_of t110p "$d/conf.before"
	grep -q 'timers throttle spf 10 20 30' "$d/conf.before/r1"
	trellis -q slice save t110p -o "$d/saved"
	grep -q 'loss: 2.5%' "$d/saved/t110p.yaml"
	grep -q 'bandwidth: {rate: 40mbit, ceil: 80mbit}' "$d/saved/t110p.yaml"
	grep -q '# taken down when saved: trellis link down t110p r1:eth1-r2:eth1' "$d/saved/t110p.yaml"
	trellis -q slice delete t110p
	trellis -q slice create -f "$d/saved/t110p.yaml" >/dev/null
	trellis -q link down t110p r1:eth1-r2:eth1
	show_norm t110p >"$d.after"
	diff -u "$d.before" "$d.after"
	configs_of t110p "$d/conf.after"
	diff -ru "$d/conf.before" "$d/conf.after"
	[ "$(jq -c '.routers[] | select(.name == "r1") | .limits | [.memory, .pids]' "$d.after")" = '[209715200,300]' ]
	[ "$(jq -c '.links[0].shape | [.rate, .ceil, .burst, .loss_ppm]' "$d.after")" = '[20000000,30000000,20480,25000]' ]
}

@test "graph and save: errors name the problem" {
	run trellis slice graph t110nope
	[ "$status" -eq 4 ]
	run trellis slice save t110nope -o "$T110_OUT/nope"
	[ "$status" -eq 4 ]
	[ ! -e "$T110_OUT/nope" ]
	run trellis slice graph t110nope --format png
	[ "$status" -eq 2 ]
	[[ "$output" == *"--format: 'png' is not dot, mermaid or svg"* ]]
	run trellis slice save
	[ "$status" -eq 2 ]
	[[ "$output" == *"missing slice name"* ]]
	run trellis slice graph t110p --output x
	[ "$status" -eq 2 ]
	# svg without Graphviz: says what is missing
	trellis -q slice create -f "$(plain_pair_spec t110v 110)" >/dev/null
	TRELLIS_DOT=/nonexistent/dot run trellis slice graph t110v --format svg
	[ "$status" -ne 0 ]
	[[ "$output" == *"cannot run '/nonexistent/dot' (Graphviz; Debian package graphviz)"* ]]
	# a router that is not running cannot give its config: save refuses and writes nothing
	spec="$T_DIR/t110v-frr.yaml"
	printf 'slice: t110u\nrouters:\n  r1: {}\n' >"$spec"
	trellis -q slice create -f "$spec" >/dev/null
	lxc-stop -P "$T_DIR/state/lxc" -n t110u.r1 -k
	run trellis slice save t110u -o "$T110_OUT/stopped"
	[ "$status" -ne 0 ]
	[[ "$output" == *"router 'r1' is stopped, not running"* ]]
	[ ! -e "$T110_OUT/stopped/t110u.yaml" ]
}

@test "tenants graph and save their own slices, and nothing of another's" {
	command -v setpriv >/dev/null || skip "setpriv not installed"
	as() { # uid args...
		local u=$1
		shift
		setpriv --reuid="$u" --regid="$u" --clear-groups "$TRELLIS_BIN" --socket "$T_SOCK" "$@"
	}
	a=60110 b=60111
	printf 'slice: t110u\nowner: "%s"\nrouters:\n  r1: {}\n  r2: {template: plain}\nlinks:\n  - {endpoints: [r1:eth1, r2:eth1], ipv4: [10.110.0.1/30, 10.110.0.2/30]}\n' \
		$a >"$T_DIR/t110u.yaml"
	printf 'slice: t110v\nowner: "%s"\nrouters:\n  r1: {}\n' $b >"$T_DIR/t110v.yaml"
	trellis -q slice create -f "$T_DIR/t110u.yaml" >/dev/null
	trellis -q slice create -f "$T_DIR/t110v.yaml" >/dev/null
	da=$(mktemp -d "$T110_OUT/tenant.XXXXXX")
	chown $a:$a "$da"

	# their own: graph and save work, the save holds the FRR router's config
	run as $a slice graph t110u --format mermaid
	[ "$status" -eq 0 ]
	[[ "$output" == *'r_r1["r1<br/>frr"]'* ]]
	run as $a slice graph t110u --stats
	[ "$status" -eq 0 ]
	run as $a slice save t110u -o "$da/mine"
	[ "$status" -eq 0 ]
	grep -q "owner: \"$a\"" "$da/mine/t110u.yaml"
	grep -q 'hostname r1' "$da/mine/r1.conf"
	[ "$(stat -c %u "$da/mine/r1.conf")" = $a ]
	[ ! -e "$da/mine/r2.conf" ]

	# another's: not found, nothing of it written
	run as $a slice graph t110v
	[ "$status" -eq 4 ]
	[[ "$output" != *"label="* ]]
	run as $a slice graph t110v --format mermaid --stats
	[ "$status" -eq 4 ]
	run as $a slice save t110v -o "$da/theirs"
	[ "$status" -eq 4 ]
	[ ! -e "$da/theirs" ]
	# nor through the exec a save runs: slice.exec in another's router is refused the same way
	run as $a slice exec t110v r1 -- vtysh -c 'show running-config'
	[ "$status" -ne 0 ]
	[[ "$output" != *"hostname"* ]]
	# and the owner of t110v sees its own
	run as $b slice graph t110v
	[ "$status" -eq 0 ]
	[[ "$output" == *'"r1" [label="r1\nfrr"]'* ]]
}

@test "two nodes: graph groups routers by node; save names each router's node and round-trips" {
	need_dot
	testbed_down "$TB"
	testbed_up "$TB" 2
	testbed_daemon "$TB" 1
	testbed_daemon "$TB" 2
	tb() {
		# shellcheck disable=SC2046
		"$TRELLIS_BIN" $(testbed_node_args "$TB") "$@"
	}
	d="$(testbed_dir "$TB")/g"
	mkdir -p "$d"
	cat >"$d/x.yaml" <<EOS
slice: t110x
routers:
  r1:
    node: ${TB}n1
    loopback: [10.255.0.1/32]
    config: |
      router ospf
       ospf router-id 10.255.0.1
      interface lo
       ip ospf area 0
      interface eth1
       ip ospf area 0
  r2:
    node: ${TB}n2
    loopback: [10.255.0.2/32]
links:
  - endpoints: [r1:eth1, r2:eth1]
    ipv4: [10.0.12.1/24, 10.0.12.2/24]
    rate: 30mbit
EOS
	tb -q slice create -f "$d/x.yaml" >/dev/null
	run tb slice graph t110x --format mermaid
	[ "$status" -eq 0 ]
	[[ "$output" == *"subgraph node0[\"node ${TB}n1\"]"$'\n\t\t'"r_r1[\"r1<br/>frr<br/>lo 10.255.0.1/32\"]"$'\n\tend'* ]]
	[[ "$output" == *"subgraph node1[\"node ${TB}n2\"]"$'\n\t\t'"r_r2[\"r2<br/>frr<br/>lo 10.255.0.2/32\"]"$'\n\tend'* ]]
	# the link as the nodes that carry it report it (not "remote")
	[[ "$output" == *"30Mbit<br/>up<br/>"* ]]
	tb slice graph t110x --stats | dot -Tsvg >/dev/null
	# save: configs through the node that runs each router
	tb -q slice save t110x -o "$d/saved"
	grep -q "node: ${TB}n1" "$d/saved/t110x.yaml"
	grep -q "node: ${TB}n2" "$d/saved/t110x.yaml"
	grep -q 'ospf router-id 10.255.0.1' "$d/saved/r1.conf"
	for i in 1 2; do
		testbed_trellis "$TB" $i --json slice show t110x |
			jq -S 'del(.created, .uid_base) | .routers[] |= del(.pid) | .links[] |= del(.key)' >"$d/show$i.before"
	done
	tb -q slice delete t110x
	tb -q slice create -f "$d/saved/t110x.yaml" >/dev/null
	for i in 1 2; do
		testbed_trellis "$TB" $i --json slice show t110x |
			jq -S 'del(.created, .uid_base) | .routers[] |= del(.pid) | .links[] |= del(.key)' >"$d/show$i.after"
		diff -u "$d/show$i.before" "$d/show$i.after"
	done
	tb -q slice delete t110x
	testbed_down "$TB"
}
