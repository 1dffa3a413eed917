# A real etcd for the cluster tests (100, 101, 102), in a testbed's
# substrate router namespace PREFIX-sw, which every node routes to.
#
#   source tests/integration/lib/testbed.bash
#   source tests/integration/lib/etcd.bash
#   P=t100 ETCD_ADDR=198.18.1.1        # set by the test file
#   etcd_start [etcd options...]        # start (or restart on the same data), wait until healthy
#   etcd_stop                           # stop it (TERM, then KILL); the data dir stays
#   etcd_running
#   ectl ARGS...                        # etcdctl against it
#   tc_cluster ARGS...                  # the CLI talking to etcd at $URL directly (from
#                                       # the namespace that reaches it; 102 adds TLS)
#   etcd_dir                            # its data, log and pid: $(testbed_dir $P)-etcd
#   cluster_testbed_up N                # setup_file: a fresh N-node testbed, no etcd data left
#                                       # (skips the file when etcd or etcdctl is missing)
#   cluster_up N                        # setup_file: the above, etcd (plain HTTP) and a
#                                       # trellisd --cluster "$URL" on each of the N nodes
#   cluster_testbed_down N              # teardown_file: nodes 1..N's warnings to fd 3, then
#                                       # daemons, testbed and etcd down, their dirs removed
#
# TLS: etcd_pki_make writes a CA, a server certificate for ETCD_ADDR and client
# certificates under $(etcd_dir)/pki; with ETCD_TLS=1 etcd_start serves
# https only and requires a client certificate signed by that CA
# (--client-cert-auth), and ectl presents the certificate whose CommonName
# is 'root' (etcd maps it to its root user once authentication is on).
# The options given to the first etcd_start are kept for restarts.

ETCD_TLS=${ETCD_TLS:-0}
ETCD_ARGS=()

etcd_dir() { echo "$(testbed_dir "$P")-etcd"; }
etcd_pki() { echo "$(etcd_dir)/pki"; }

# CA, server (SAN = ETCD_ADDR), 'root' (etcdctl), 'client' (no CommonName:
# etcd's JSON gateway refuses certificates with one once authentication is
# on), and a second CA that signed none of them.
etcd_pki_make() {
	local d
	d=$(etcd_pki)
	mkdir -p "$d"
	chmod 700 "$d"
	(
		cd "$d" || exit 1
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=$P test CA" &&
			openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days 2 \
				-subj "/CN=$P other CA" &&
			printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$ETCD_ADDR" >server.ext &&
			printf 'extendedKeyUsage=clientAuth\n' >client.ext &&
			openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=$P etcd" &&
			openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 \
				-extfile server.ext &&
			openssl req -newkey rsa:2048 -nodes -keyout root.key -out root.csr -subj "/CN=root" &&
			openssl x509 -req -in root.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out root.pem -days 2 \
				-extfile client.ext &&
			openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "/O=trellis" &&
			openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 \
				-extfile client.ext
	) >"$d/openssl.log" 2>&1 || {
		cat "$d/openssl.log" >&2
		return 1
	}
}

etcd_url() { # the client URL as etcd serves it
	if [ "$ETCD_TLS" = 1 ]; then echo "https://$ETCD_ADDR:2379"; else echo "http://$ETCD_ADDR:2379"; fi
}

ectl() {
	if [ "$ETCD_TLS" = 1 ]; then
		ip netns exec "$P-sw" etcdctl --endpoints "$(etcd_url)" --cacert "$(etcd_pki)/ca.pem" \
			--cert "$(etcd_pki)/root.pem" --key "$(etcd_pki)/root.key" "$@"
	else
		ip netns exec "$P-sw" etcdctl --endpoints "$ETCD_ADDR:2379" "$@"
	fi
}

tc_cluster() { ip netns exec "$P-sw" "$TRELLIS_BIN" --cluster "$URL" "$@"; }

etcd_start() {
	local d tls=()
	d=$(etcd_dir)
	mkdir -p "$d"
	[ $# -gt 0 ] && ETCD_ARGS=("$@")
	if [ "$ETCD_TLS" = 1 ]; then
		tls=(--cert-file "$(etcd_pki)/server.pem" --key-file "$(etcd_pki)/server.key"
			--client-cert-auth --trusted-ca-file "$(etcd_pki)/ca.pem")
	fi
	ip netns exec "$P-sw" etcd --name tb --data-dir "$d/data" \
		--listen-client-urls "$(etcd_url)" --advertise-client-urls "$(etcd_url)" \
		--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster tb=http://127.0.0.1:2380 "${tls[@]}" "${ETCD_ARGS[@]}" >>"$d/etcd.log" 2>&1 &
	echo $! >"$d/etcd.pid"
	disown $! 2>/dev/null || true
	for _ in $(seq 100); do
		ectl endpoint health >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "etcd did not start:" >&2
	cat "$d/etcd.log" >&2
	return 1
}

etcd_stop() {
	local pid
	pid=$(cat "$(etcd_dir)/etcd.pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$(etcd_dir)/etcd.pid"
}

etcd_running() {
	local pid
	pid=$(cat "$(etcd_dir)/etcd.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null
}

cluster_testbed_up() { # NODES
	command -v etcd >/dev/null || skip "etcd not installed (Debian package etcd-server)"
	command -v etcdctl >/dev/null || skip "etcdctl not installed (Debian package etcd-client)"
	testbed_down "$P"
	etcd_stop
	rm -rf "$(etcd_dir)"
	testbed_up "$P" "$1"
}

cluster_up() { # NODES
	local i
	cluster_testbed_up "$1"
	etcd_start
	for i in $(seq "$1"); do
		testbed_daemon "$P" "$i" --cluster "$URL"
	done
}

cluster_testbed_down() { # NODES
	local d i
	d=$(testbed_dir "$P")
	for i in $(seq "$1"); do
		grep -E ' (warn|error) ' "$d/n$i/trellisd.log" 2>/dev/null | sed "s/^/# trellisd(n$i): /" >&3 || true
	done
	# testbed_down deletes the slices the live daemons still hold (through
	# etcd, which is still up for it: a test that failed half-way leaves no
	# containers or cgroups behind), then stops the daemons.
	testbed_down "$P"
	etcd_stop
	rm -rf "$d" "$(etcd_dir)"
}
