#!/usr/bin/env bats
# doc/cluster.md, followed literally: every block marked `sh step=NAME` is
# extracted and run in order, with the "site" block's values replaced by this
# testbed's (etcd on the substrate router's address) and every absolute path
# under /etc and /var moved under a private root (so the host's own /etc is
# never touched).  `systemctl` in the blocks is a stand-in that starts and
# stops what the unit would: etcd with the environment of the written
# /etc/default/etcd (as Debian's etcd.service does), trellisd on the two
# emulated nodes with the written trellisd.conf.  Then a slice is deployed
# from the "management host" block, a backup taken, a slice created after it,
# and the documented restore brings the cluster back to the backup.

load helpers
source "$BATS_TEST_DIRNAME/lib/testbed.bash"
source "$BATS_TEST_DIRNAME/lib/etcd.bash"

P=t103
ETCD_ADDR=198.18.1.1
DOC=$TRELLIS_SRC/doc/cluster.md

droot() { echo "$(testbed_dir "$P")-doc"; } # blocks, the private root, the stand-ins
rootdir() { echo "$(droot)/root"; }

# Every `sh step=NAME` block of the doc as blocks/NN-NAME.sh, in order; the
# names of the ones marked no-test in blocks/skipped.
extract() {
	local d=$1
	mkdir -p "$d/blocks"
	awk -v d="$d/blocks" '
		/^```(sh|ini) step=/ { n++; name = $2; sub(/^step=/, "", name);
			if (name == "no-test") { skipped++; inb = 2; next }
			f = sprintf("%s/%02d-%s.sh", d, n, name); inb = 1; next }
		/^```/ && inb { inb = 0; next }
		inb == 1 { print > f }
		END { print skipped + 0 > (d "/skipped") }' "$DOC"
}

# The stand-in for systemctl: what the units would start and stop.
write_standins() {
	local d=$1 r
	r=$(rootdir)
	mkdir -p "$d/bin"
	ln -sf "$TRELLIS_BIN" "$d/bin/trellis"
	cat >"$d/bin/systemctl" <<EOF
#!/usr/bin/env bash
# systemctl stand-in for 103-cluster-ops.bats
set -euo pipefail
export TRELLIS_BUILD='$TRELLIS_BUILD' TRELLIS_SRC='$TRELLIS_SRC'
source '$TRELLIS_SRC/tests/integration/lib/testbed.bash'
P='$P'
pidf='$(etcd_dir)/etcd.pid'
etcd_up() {
	mkdir -p '$(etcd_dir)'
	# Debian's etcd.service: EnvironmentFile=-/etc/default/etcd, ExecStart=/usr/bin/etcd
	env \$(grep -E '^[A-Z_]+=' '$r/etc/default/etcd') nsenter --net='/run/netns/$P-sw' etcd >>'$(etcd_dir)/etcd.log' 2>&1 &
	echo \$! >"\$pidf"
	disown
	for _ in \$(seq 100); do
		nsenter --net='/run/netns/$P-sw' etcdctl --endpoints 'https://$ETCD_ADDR:2379' --cacert '$r/etc/trellis/pki/ca.pem' \\
			--cert '$r/etc/trellis/pki/root.pem' --key '$r/etc/trellis/pki/root.key' endpoint health >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "systemctl: etcd did not start" >&2
	tail -5 '$(etcd_dir)/etcd.log' >&2
	return 1
}
etcd_down() {
	local pid
	pid=\$(cat "\$pidf" 2>/dev/null) || return 0
	kill -TERM "\$pid" 2>/dev/null || true
	for _ in \$(seq 100); do kill -0 "\$pid" 2>/dev/null || break; sleep 0.1; done
	rm -f "\$pidf"
}
case "\$1 \$2" in
"restart etcd") etcd_down; etcd_up ;;
"start etcd") etcd_up ;;
"stop etcd") etcd_down ;;
"restart trellisd")
	for i in 1 2; do
		testbed_daemon_stop "\$P" "\$i"
		testbed_daemon "\$P" "\$i" --config '$r/etc/trellis/trellisd.conf'
	done ;;
*) echo "systemctl stand-in: '\$*' is not something the doc should need" >&2; exit 1 ;;
esac
EOF
	chmod 755 "$d/bin/systemctl"
}

# Run the doc's block NAME in the substrate router's namespace (the etcd
# host, which is also the management host), from the work directory.
doc_run() { # NAME
	local d f s
	d=$(droot)
	f=$(ls "$d/blocks/"*"-$1.sh")
	s=$d/run-$1.sh
	{
		echo "set -euo pipefail"
		echo "export PATH='$d/bin':\$PATH"
		echo "ETCD_IP=$ETCD_ADDR"
		echo "PKI='$(rootdir)/etc/trellis/pki'"
		# absolute /etc and /var paths, at a word start, into the private root
		sed -E "s#(^|[[:space:]=\"'>])/(etc|var)/#\\1$(rootdir)/\\2/#g" "$f"
	} >"$s"
	# nsenter, not ip netns exec: the daemons the stand-in starts need the host's /sys
	(cd "$d/work" && nsenter --net="/run/netns/$P-sw" bash "$s")
}

setup_file() {
	require_root
	command -v openssl >/dev/null || skip "openssl not installed"
	cluster_testbed_up 2
	rm -rf "$(droot)"
	mkdir -p "$(droot)/work" "$(rootdir)/etc/trellis" "$(rootdir)/etc/default" "$(rootdir)/var/lib/etcd" \
		"$(rootdir)/var/backups"
	extract "$(droot)"
	write_standins "$(droot)"
	cat >"$(droot)/work/pair.yaml" <<EOS
slice: t103a
routers:
  a:
    node: ${P}n1
    template: plain
  b:
    node: ${P}n2
    template: plain
links:
  - endpoints: [a:eth1, b:eth1]
    ipv4: [10.9.0.1/24, 10.9.0.2/24]
EOS
}

teardown() {
	# a test that killed node 1's daemon and failed: it comes back to delete what it holds
	if [ -f "$(rootdir)/etc/trellis/trellisd.conf" ] && [ ! -f "$(testbed_dir "$P")/n1/trellisd.pid" ]; then
		testbed_daemon "$P" 1 --config "$(rootdir)/etc/trellis/trellisd.conf" || true
	fi
	testbed_trellis "$P" 1 -q slice delete t103r >/dev/null 2>&1 || true
}

teardown_file() {
	[ -z "${T103_KEEP:-}" ] || return 0 # debugging: leave it all up
	cluster_testbed_down 2
	rm -rf "$(droot)"
}

@test "the doc's blocks are all there, in order; those not run say why" {
	run ls "$(droot)/blocks"
	echo "$output"
	[ "$(echo "$output" | grep '\.sh$' | sed 's/^[0-9]*-//; s/\.sh$//' | tr '\n' ' ')" = "site pki etcd-single auth node-config backup restore manage " ]
	# three-member etcd and the firewall are described, not run
	[ "$(cat "$(droot)/blocks/skipped")" -eq 2 ]
	grep -q 'step=no-test' "$DOC"
}

@test "certificates: the CA, etcd's server certificate with its IP, a client one without CommonName" {
	doc_run pki
	pki=$(rootdir)/etc/trellis/pki
	openssl x509 -in "$pki/server.pem" -noout -text | grep -q "IP Address:$ETCD_ADDR"
	openssl x509 -in "$pki/server.pem" -noout -text | grep -q "TLS Web Client Authentication"
	run openssl x509 -in "$pki/client.pem" -noout -subject
	[[ "$output" == *"O = trellis"* ]]
	[[ "$output" != *"CN"* ]]
}

@test "etcd, one member, TLS with client certificates: healthy; no certificate is refused" {
	doc_run etcd-single
	[ -f "$(rootdir)/etc/default/etcd" ]
	[ -d "$(rootdir)/var/lib/etcd/trellis/member" ]
	run nsenter --net="/run/netns/$P-sw" curl -sS --max-time 5 --cacert "$(rootdir)/etc/trellis/pki/ca.pem" "https://$ETCD_ADDR:2379/version"
	[ "$status" -ne 0 ]
	run nsenter --net="/run/netns/$P-sw" curl -sS --max-time 5 "http://$ETCD_ADDR:2379/version"
	[ "$status" -ne 0 ]
}

@test "authentication: the trellis user may write /trellis/ only" {
	doc_run auth
	[ "$(stat -c %a "$(rootdir)/etc/trellis/etcd.password")" = 600 ]
	pki=$(rootdir)/etc/trellis/pki
	pw=$(cat "$(rootdir)/etc/trellis/etcd.password")
	e=(nsenter --net="/run/netns/$P-sw" etcdctl --endpoints "https://$ETCD_ADDR:2379" --cacert "$pki/ca.pem"
		--cert "$pki/client.pem" --key "$pki/client.key")
	"${e[@]}" --user "trellis:$pw" put /trellis/doc-check 1
	"${e[@]}" --user "trellis:$pw" del /trellis/doc-check
	run "${e[@]}" --user "trellis:$pw" put /elsewhere 1
	[ "$status" -ne 0 ]
	[[ "$output" == *"permission denied"* ]]
	run "${e[@]}" --user "trellis:wrong-password" get /trellis/ --prefix
	[ "$status" -ne 0 ]
	[[ "$output" == *"authentication failed"* ]]
}

@test "the nodes start with the documented trellisd.conf and register" {
	doc_run node-config
	run testbed_trellis "$P" 1 --json node list
	echo "$output"
	[ "$(echo "$output" | jq '[.nodes[] | select(.state == "up")] | length')" -eq 2 ]
}

@test "a backup, then the management host deploys a slice across both nodes with etcd access alone" {
	doc_run backup
	[ -s "$(rootdir)/var/backups/trellis-etcd.db" ]
	run doc_run manage
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"${P}n1"*up* ]]
	[[ "$output" == *t103a* ]]
	testbed_trellis "$P" 1 slice exec t103a a -- ping -c 2 -i 0.2 -W 2 10.9.0.2
}

@test "restore: etcd back at the backup; the nodes tear down what it does not hold, by themselves" {
	# t103a came after the backup: the restored cluster no longer wants it
	testbed_trellis "$P" 2 --json slice show t103a >/dev/null
	doc_run restore
	wait_for 45 eval '! testbed_trellis "$P" 1 --json slice show t103a >/dev/null 2>&1'
	wait_for 45 eval '! testbed_trellis "$P" 2 --json slice show t103a >/dev/null 2>&1'
	refute_links "$P-n1" "t103a\."
	refute_links "$P-n2" "t103a\."
	# and both nodes are still members: the cluster works on
	run testbed_trellis "$P" 1 --json node list
	[ "$(echo "$output" | jq '[.nodes[] | select(.state == "up")] | length')" -eq 2 ]
}

@test "a cluster node answers reads while its start-up reconciliation runs; the cluster waits for it" {
	f=$(droot)/work/many.yaml
	{
		printf 'slice: t103r\nrouters:\n'
		for i in $(seq 8); do printf '  r%s: {node: %sn1, template: plain}\n' "$i" "$P"; done
	} >"$f"
	testbed_trellis "$P" 1 -q slice create -f "$f"
	run testbed_trellis "$P" 1 --json slice show t103r
	echo "$output" | jq -c '[.routers[] | {name, state}]'
	[ "$(echo "$output" | jq -r '[.routers[].state] | unique | join(",")')" = running ]
	d=$(testbed_dir "$P")/n1
	testbed_daemon_stop "$P" 1 KILL
	# every router stopped: the reconciliation restarts them one by one
	# (in the node's network namespace: LXC's command sockets are abstract sockets there)
	for i in $(seq 8); do
		nsenter --net="/run/netns/$P-n1" lxc-stop -P "$d/state/lxc" -n "t103r.r$i" -k
	done
	nsenter --net="/run/netns/$P-n1" "$TRELLIS_BUILD/trellisd/trellisd" --state-dir "$d/state" \
		--socket "$d/trellisd.sock" --node "${P}n1" --substrate eth0 --parallel 1 \
		--template-path "$TRELLIS_SRC/container-templates" --config "$(rootdir)/etc/trellis/trellisd.conf" \
		>>"$d/trellisd.log" 2>&1 3>&- &
	echo $! >"$d/trellisd.pid"
	disown $! 2>/dev/null || true
	seen=0
	for _ in $(seq 300); do
		if out=$(timeout 2 "$TRELLIS_BIN" --socket "$d/trellisd.sock" --json node show 2>/dev/null); then
			if [ "$(echo "$out" | jq -r '.reconcile.running')" = true ]; then
				seen=1
				# a read during it is answered at once
				run timeout 2 "$TRELLIS_BIN" --socket "$d/trellisd.sock" slice list
				[ "$status" -eq 0 ]
				[[ "$output" == *t103r* ]]
				break
			fi
			[ "$(echo "$out" | jq -r '.reconcile.slices // empty')" = 1 ] && break
		fi
		sleep 0.05
	done
	[ "$seen" = 1 ]
	wait_for 60 eval '[ "$(testbed_trellis "$P" 1 --json node show | jq -r ".reconcile.running // false")" = false ]'
	[ "$(testbed_trellis "$P" 1 --json slice show t103r | jq -r '[.routers[].state] | unique | join(",")')" = running ]
	# the node is back in the cluster, and the cluster's slice is still whole
	wait_for 20 eval '[ "$(testbed_trellis "$P" 2 --json node list | jq "[.nodes[] | select(.state == \"up\")] | length")" = 2 ]'
	testbed_trellis "$P" 1 -q slice delete t103r
}
