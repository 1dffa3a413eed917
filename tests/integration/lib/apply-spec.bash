# The slice 125-apply-multinode and 126-apply-cluster edit: r1 on node 1, r2
# on node 2 (FRR, OSPF), one cross-node link (slice $S of testbed $P; source
# it after both are set).  spec FILE COST: r1's OSPF cost on eth1 is COST;
# [routers] more routers, [links] more links (YAML), [r2 interfaces] more
# interfaces of r2.  R3 and L23: a third router on node 3 and its link to r2.
spec() { # FILE COST [routers] [links] [r2 interfaces]
	{
		printf 'slice: %s\nrouters:\n' "$S"
		ospf_router r1 "${P}n1" 1 eth1
		printf '       ip ospf cost %s\n' "$2"
		# shellcheck disable=SC2086 # $5: more interfaces, or none
		ospf_router r2 "${P}n2" 2 eth1 ${5:-}
		if [ -n "${3:-}" ]; then printf '%s\n' "$3"; fi
		printf 'links:\n  - endpoints: [r1:eth1, r2:eth1]\n    ipv4: [10.0.12.1/24, 10.0.12.2/24]\n'
		if [ -n "${4:-}" ]; then printf '%s\n' "$4"; fi
	} >"$1"
}

R3="$(printf '  r3:\n    node: %sn3\n    template: plain\n' "$P")"
L23="$(printf '  - endpoints: [r2:eth2, r3:eth1]\n    ipv4: [10.0.23.2/24, 10.0.23.3/24]\n')"

