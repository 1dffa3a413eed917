#!/usr/bin/env bats
# Cluster mode over TLS, with client certificates and etcd authentication.
# A real etcd in the substrate router namespace (lib/etcd.bash) serves https
# only, with --client-cert-auth against a CA made here with openssl; two
# emulated nodes run trellisd --cluster etcds://...  Node 3 is where refused
# configurations are tried: trellisd runs in the foreground there and must
# exit with a precise message.  Later tests turn etcd's authentication on
# (a 3-second token TTL, so tokens expire between requests).

load helpers
source "$BATS_TEST_DIRNAME/lib/testbed.bash"
source "$BATS_TEST_DIRNAME/lib/etcd.bash"

P=t102
ETCD_ADDR=198.18.1.1
ETCD_TLS=1
URL="etcds://$ETCD_ADDR:2379"
SLICES="t102a t102b"
PW=tr3llis-secret

pki() { echo "$(etcd_pki)/$1"; }
auth_on() { [ -f "$(etcd_dir)/auth-on" ]; }

# Node options for TLS with the client certificate (and the etcd user once auth is on).
tls_opts() {
	echo --cluster "$URL" --cluster-ca "$(pki ca.pem)" --cluster-cert "$(pki client.pem)" --cluster-key "$(pki client.key)"
	if auth_on; then echo --cluster-user trellis --cluster-password-file "$(etcd_dir)/trellis.pw"; fi
}

# The CLI talking to etcd directly, with the certificate (and the user once
# auth is on); bounded: a create that waited for a node forever fails the test.
tc_cluster() {
	if auth_on; then
		TRELLIS_CLUSTER_PASSWORD=$PW timeout 300 ip netns exec "$P-sw" "$TRELLIS_BIN" $(tls_opts | grep -v password-file) \
			--cluster-user trellis "$@"
	else
		timeout 300 ip netns exec "$P-sw" "$TRELLIS_BIN" $(tls_opts) "$@"
	fi
}

# trellisd on node 3 in the foreground: it must refuse to start (bounded, in case it does not).
node3_try() {
	local dir
	dir=$(testbed_dir "$P")/n3
	timeout 30 nsenter --net="/run/netns/$P-n3" "$TRELLISD" --state-dir "$dir/state" --socket "$dir/trellisd.sock" \
		--node "${P}n3" --substrate eth0 --template-path "$TRELLIS_SRC/container-templates" "$@" 2>&1
}

pair_spec() { # name
	local f
	f="$(testbed_dir "$P")/$1.yaml"
	cat >"$f" <<EOS
slice: $1
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
	echo "$f"
}

restart_nodes() { # with a fresh log (the old one is kept beside it)
	local d
	d=$(testbed_dir "$P")
	for i in 1 2; do
		testbed_daemon_stop "$P" "$i"
		mv "$d/n$i/trellisd.log" "$d/n$i/trellisd.log.before" 2>/dev/null || true
		# shellcheck disable=SC2046
		testbed_daemon "$P" "$i" $(tls_opts)
	done
}

setup_file() {
	require_root
	command -v openssl >/dev/null || skip "openssl not installed"
	cluster_testbed_up 3
	etcd_pki_make
	etcd_start --auth-token-ttl 3
	for i in 1 2; do
		# shellcheck disable=SC2046
		testbed_daemon "$P" "$i" $(tls_opts)
	done
}

teardown_file() {
	local d
	d=$(testbed_dir "$P")
	[ -d "$d" ] || return 0
	etcd_running || etcd_start || true
	for s in $SLICES; do
		tc_cluster -q slice delete "$s" >/dev/null 2>&1 || true
	done
	cluster_testbed_down 3
}

teardown() {
	for s in $SLICES; do
		testbed_trellis "$P" 1 -q slice delete "$s" >/dev/null 2>&1 || true
	done
}

@test "over TLS with a client certificate: nodes register, a 2-router slice becomes ready and pings" {
	run tc_cluster --json node list
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r '[.nodes[] | select(.state == "up") | .name] | sort | join(",")')" = "t102n1,t102n2" ]
	[ "$(testbed_trellis "$P" 1 --json node show | jq -r .cluster)" = "$URL" ]
	# the registration really is in etcd (read over TLS with another certificate)
	ectl get /trellis/nodes/t102n2 --print-value-only | jq -e '.name == "t102n2"'
	run timeout 300 "$TRELLIS_BIN" --socket "$(testbed_sock "$P" 1)" slice create -f "$(pair_spec t102a)"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"ready on 2 node(s)"* ]]
	testbed_trellis "$P" 1 slice exec t102a a -- ping -c 3 -i 0.2 -W 2 10.9.0.2
	testbed_trellis "$P" 2 slice exec t102a b -- ping -c 2 -i 0.2 -W 2 10.9.0.1
	run tc_cluster -q slice delete t102a
	[ "$status" -eq 0 ]
	run testbed_trellis "$P" 2 slice show t102a
	[ "$status" -ne 0 ]
}

@test "refused: no client certificate, a wrong CA, plain etcd:// against TLS, unreadable files" {
	# no client certificate: etcd closes the connection
	run node3_try --cluster "$URL" --cluster-ca "$(pki ca.pem)"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"--cluster: etcd at 'https://$ETCD_ADDR:2379' is unreachable"* ]]
	[[ "$output" == *"does etcd require a client certificate? set cluster-cert"* ]]
	# a CA that did not sign etcd's certificate
	run node3_try --cluster "$URL" --cluster-ca "$(pki other-ca.pem)" --cluster-cert "$(pki client.pem)" \
		--cluster-key "$(pki client.key)"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"etcd at 'https://$ETCD_ADDR:2379': the server's TLS certificate does not verify against cluster-ca '$(pki other-ca.pem)'"* ]]
	[[ "$output" == *"unable to get local issuer certificate"* ]]
	# no CA at all: the system's CAs do not know this one either
	run node3_try --cluster "$URL" --cluster-cert "$(pki client.pem)" --cluster-key "$(pki client.key)"
	[ "$status" -eq 1 ]
	[[ "$output" == *"does not verify against the system's CA certificates"* ]]
	# plain HTTP against the TLS port
	run node3_try --cluster "etcd://$ETCD_ADDR:2379"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"etcd at 'http://$ETCD_ADDR:2379' is unreachable"*"(a TLS endpoint? use etcds://)"* ]]
	# TLS files with a plain URL, a file that is not there, a key that is not the certificate's
	run node3_try --cluster "etcd://$ETCD_ADDR:2379" --cluster-ca "$(pki ca.pem)"
	[ "$status" -eq 2 ]
	[[ "$output" == *"cluster-ca is set but the URL is plain HTTP (use etcds://)"* ]]
	run node3_try --cluster "$URL" --cluster-ca /nonexistent/ca.pem
	[ "$status" -eq 2 ]
	[[ "$output" == *"cluster-ca '/nonexistent/ca.pem': cannot read it: No such file or directory"* ]]
	run node3_try --cluster "$URL" --cluster-ca "$(pki ca.pem)" --cluster-cert "$(pki client.pem)" \
		--cluster-key "$(pki root.key)"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cluster-cert '$(pki client.pem)', cluster-key '$(pki root.key)': not a usable client certificate and key"* ]]
	run node3_try --cluster-ca "$(pki ca.pem)"
	[ "$status" -eq 2 ]
	[[ "$output" == *"--cluster-ca needs --cluster"* ]]
	# the CLI is refused the same ways
	run ip netns exec "$P-sw" "$TRELLIS_BIN" --cluster "$URL" --cluster-ca "$(pki ca.pem)" node list
	[ "$status" -ne 0 ]
	[[ "$output" == *"does etcd require a client certificate?"* ]]
	run ip netns exec "$P-sw" "$TRELLIS_BIN" --cluster "$URL" --cluster-ca "$(pki other-ca.pem)" \
		--cluster-cert "$(pki client.pem)" --cluster-key "$(pki client.key)" node list
	[ "$status" -ne 0 ]
	[[ "$output" == *"does not verify against cluster-ca"* ]]
	run ip netns exec "$P-sw" "$TRELLIS_BIN" --cluster "etcd://$ETCD_ADDR:2379" node list
	[ "$status" -ne 0 ]
	[[ "$output" == *"use etcds://"* ]]
	run env TRELLIS_CLUSTER="$URL" TRELLIS_CLUSTER_CA=/nonexistent/ca.pem ip netns exec "$P-sw" "$TRELLIS_BIN" node list
	[ "$status" -ne 0 ]
	[[ "$output" == *"cluster-ca '/nonexistent/ca.pem': cannot read it"* ]]
	# node 3 never registered
	[ "$(tc_cluster --json node list | jq -r '[.nodes[].name] | sort | join(",")')" = "t102n1,t102n2" ]
}

@test "trellisd.conf: cluster keys; the password file must be root's and not readable by others" {
	local d conf
	d=$(testbed_dir "$P")
	conf="$d/trellisd.conf"
	printf '%s\n' wrong >"$d/loose.pw"
	chmod 0644 "$d/loose.pw"
	cat >"$conf" <<EOF
cluster = $URL
cluster-ca = $(pki ca.pem)
cluster-cert = $(pki client.pem)
cluster-key = $(pki client.key)
cluster-user = trellis
cluster-password-file = $d/loose.pw
EOF
	chmod 0644 "$conf"
	run node3_try --config "$conf"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cluster-password-file '$d/loose.pw': must be a file owned by root, readable by no one else"*"mode 0644"* ]]
	# the command line wins over the file: another (missing) CA
	chmod 0600 "$d/loose.pw"
	run node3_try --config "$conf" --cluster-ca /nonexistent/other.pem
	[ "$status" -eq 2 ]
	[[ "$output" == *"cluster-ca '/nonexistent/other.pem': cannot read it"* ]]
	# a key the file does not know
	echo "cluster-pasword-file = /x" >>"$conf"
	run node3_try --config "$conf"
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown key 'cluster-pasword-file' (did you mean 'cluster-password-file'?)"* ]]
	# a user needs a password file, never a password on the command line
	run node3_try --cluster "$URL" --cluster-user trellis
	[ "$status" -eq 2 ]
	[[ "$output" == *"--cluster-user 'trellis' needs --cluster-password-file"* ]]
	rm -f "$conf" "$d/loose.pw"
}

@test "etcd authentication: nodes authenticate as their user, renew expired tokens, deploy and ping" {
	ectl user add root --new-user-password "root-$PW"
	ectl user grant-role root root
	ectl role add trellis
	ectl role grant-permission trellis --prefix=true readwrite /trellis/
	ectl user add trellis --new-user-password "$PW"
	ectl user grant-role trellis trellis
	ectl user add nobody --new-user-password "$PW"
	ectl auth enable
	touch "$(etcd_dir)/auth-on"
	(umask 077 && printf '%s\n' "$PW" >"$(etcd_dir)/trellis.pw")
	# without a user, etcd now refuses: the CLI says what to set
	run ip netns exec "$P-sw" "$TRELLIS_BIN" --cluster "$URL" --cluster-ca "$(pki ca.pem)" \
		--cluster-cert "$(pki client.pem)" --cluster-key "$(pki client.key)" node list
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"user name is empty (etcd has authentication enabled: set cluster-user and its password)"* ]]
	# a user without a role on /trellis/
	run env TRELLIS_CLUSTER_PASSWORD="$PW" ip netns exec "$P-sw" "$TRELLIS_BIN" --cluster "$URL" \
		--cluster-ca "$(pki ca.pem)" --cluster-cert "$(pki client.pem)" --cluster-key "$(pki client.key)" \
		--cluster-user nobody node list
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"permission denied (the etcd user lacks a role that grants this key range)"* ]]
	restart_nodes
	run tc_cluster --json node list
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r '[.nodes[] | select(.state == "up") | .name] | sort | join(",")')" = "t102n1,t102n2" ]
	# every daemon thread's token expires (TTL 3 s): the next requests must authenticate again
	sleep 4
	run tc_cluster slice create -f "$(pair_spec t102b)"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"ready on 2 node(s)"* ]]
	testbed_trellis "$P" 1 slice exec t102b a -- ping -c 3 -i 0.2 -W 2 10.9.0.2
	sleep 4
	# deleted through a node's socket: the node's request to etcd authenticates too
	run timeout 300 "$TRELLIS_BIN" --socket "$(testbed_sock "$P" 2)" -q slice delete t102b
	echo "$output"
	[ "$status" -eq 0 ]
	run testbed_trellis "$P" 1 slice show t102b
	[ "$status" -ne 0 ]
	# the nodes' registrations are refreshed (every 10 s) with tokens idle for longer than their TTL
	seen=$(ectl get /trellis/nodes/t102n1 --print-value-only | jq .seen)
	for _ in $(seq 150); do
		[ "$(ectl get /trellis/nodes/t102n1 --print-value-only | jq .seen)" != "$seen" ] && break
		sleep 0.1
	done
	[ "$(ectl get /trellis/nodes/t102n1 --print-value-only | jq .seen)" != "$seen" ]
	# no node lost etcd on the way (an expired token not renewed would show here)
	run grep -E "cannot (read|renew)|watch of the cluster" "$(testbed_dir "$P")"/n1/trellisd.log "$(testbed_dir "$P")"/n2/trellisd.log
	echo "$output"
	[ "$status" -eq 1 ]
}

@test "etcd authentication: a wrong password is refused by the daemon and by the CLI" {
	auth_on || skip "needs the previous test's authentication"
	local d
	d=$(testbed_dir "$P")
	(umask 077 && printf '%s\n' wrong-password >"$d/wrong.pw")
	run node3_try --cluster "$URL" --cluster-ca "$(pki ca.pem)" --cluster-cert "$(pki client.pem)" \
		--cluster-key "$(pki client.key)" --cluster-user trellis --cluster-password-file "$d/wrong.pw"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"--cluster: etcd at 'https://$ETCD_ADDR:2379': cannot authenticate as cluster-user 'trellis'"*"authentication failed, invalid user ID or password"* ]]
	run env TRELLIS_CLUSTER_PASSWORD=wrong-password ip netns exec "$P-sw" "$TRELLIS_BIN" --cluster "$URL" \
		--cluster-ca "$(pki ca.pem)" --cluster-cert "$(pki client.pem)" --cluster-key "$(pki client.key)" \
		--cluster-user trellis node list
	[ "$status" -ne 0 ]
	[[ "$output" == *"cannot authenticate as cluster-user 'trellis'"* ]]
	# a user without the password in the environment is a usage error
	run ip netns exec "$P-sw" "$TRELLIS_BIN" --cluster "$URL" --cluster-user trellis node list
	[ "$status" -eq 2 ]
	[[ "$output" == *"the password must be in \$TRELLIS_CLUSTER_PASSWORD"* ]]
	# a certificate with a CommonName is refused by etcd's gateway once auth is on: said plainly
	run env TRELLIS_CLUSTER_PASSWORD="$PW" ip netns exec "$P-sw" "$TRELLIS_BIN" --cluster "$URL" \
		--cluster-ca "$(pki ca.pem)" --cluster-cert "$(pki root.pem)" --cluster-key "$(pki root.key)" \
		--cluster-user trellis node list
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"refuses client certificates that carry a CommonName"* ]]
	rm -f "$d/wrong.pw"
	[ "$(tc_cluster --json node list | jq -r '[.nodes[].name] | sort | join(",")')" = "t102n1,t102n2" ]
}
