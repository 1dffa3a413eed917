#!/usr/bin/env bats
# The HTTP endpoint (trellisd --http, trellisd(8) HTTP ENDPOINT): /metrics
# checked by promtool and scraped by a real Prometheus whose PromQL answer
# matches slice stats; bearer tokens (a tenant's sees its slices only);
# wrong tokens, path traversal, oversized and slow requests and a connection
# flood get the right answer and cost nothing; the topology page in headless
# Chromium (tests/browser/page-check.js): every router and link drawn, a link
# taken down turns red within 2 s, a tenant's page shows its slices only;
# beyond loopback only with TLS and tokens.

load helpers
bats_require_minimum_version 1.5.0

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# curl against the endpoint: hc PATH [curl options...]; prints the body, then the status on its own line.
hc() {
	local p=$1
	shift
	curl -sS --max-time 10 -w '\n%{http_code}' "$@" "http://127.0.0.1:$HP$p"
}

setup_file() {
	require_root
	command -v useradd >/dev/null || skip "useradd not installed"
	command -v curl >/dev/null || skip "curl not installed"
	export U1="t130a$$"
	useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$U1"
	export T_CONF T_TOKENS HP ROOT_TOKEN TENANT_TOKEN
	T_CONF=$(mktemp /tmp/trellis-test-130-conf.XXXXXX)
	printf 'allow-tenant-create = yes\ntenant-users = %s\nrequest-timeout = 3\n' "$U1" >"$T_CONF"
	chmod 644 "$T_CONF"
	ROOT_TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
	TENANT_TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
	T_TOKENS=$(mktemp /tmp/trellis-test-130-tokens.XXXXXX)
	printf '# the operator\n%s\n%s %s\n' "$ROOT_TOKEN" "$TENANT_TOKEN" "$U1" >"$T_TOKENS"
	chmod 600 "$T_TOKENS"
	HP=$(free_port)
	start_daemon --config "$T_CONF" --http "127.0.0.1:$HP" --http-tokens "$T_TOKENS"
	cat >"$T_DIR/h130a.yaml" <<EOS
slice: h130a
routers:
  r1: {template: plain}
  r2: {template: plain}
  r3: {template: plain}
links:
  - {endpoints: [r1:eth1, r2:eth1], ipv4: [10.130.0.1/30, 10.130.0.2/30], rate: 20mbit}
  - {endpoints: [r2:eth2, r3:eth1], ipv4: [10.130.1.1/30, 10.130.1.2/30]}
EOS
	cat >"$T_DIR/h130b.yaml" <<EOS
slice: h130b
routers:
  r1: {template: plain}
  r2: {template: plain}
links:
  - {endpoints: [r1:eth1, r2:eth1], ipv4: [10.130.2.1/30, 10.130.2.2/30]}
EOS
	chmod 644 "$T_DIR/h130b.yaml"
	trellis -q slice create -f "$T_DIR/h130a.yaml"
	as_user "$U1" -q slice create -f "$T_DIR/h130b.yaml"
}

teardown_file() {
	stop_daemon
	rm -f "${T_CONF:-}" "${T_TOKENS:-}"
	remove_test_users "${U1:-}"
}

teardown() {
	# A browser a timed-out page check left behind: found by its own profile directory.
	pkill -KILL -f -- "--user-data-dir=$BATS_FILE_TMPDIR/chromium" 2>/dev/null || true
	if [ -f "$BATS_FILE_TMPDIR/prom.pid" ]; then
		kill "$(cat "$BATS_FILE_TMPDIR/prom.pid")" 2>/dev/null || true
		rm -f "$BATS_FILE_TMPDIR/prom.pid"
	fi
	if [ -f "$BATS_FILE_TMPDIR/tls.pid" ]; then
		kill "$(cat "$BATS_FILE_TMPDIR/tls.pid")" 2>/dev/null || true
		sleep 1
		rm -f "$BATS_FILE_TMPDIR/tls.pid"
	fi
	if [ -f "$BATS_FILE_TMPDIR/tls.dir" ]; then
		rm -rf "$(cat "$BATS_FILE_TMPDIR/tls.dir")" "/sys/fs/bpf/trellis/t130tls$$"
		rm -f "$BATS_FILE_TMPDIR/tls.dir"
	fi
}

@test "/metrics: promtool check metrics passes; every family is in trellisd(8)" {
	command -v promtool >/dev/null || skip "promtool not installed (Debian prometheus)"
	hc /metrics -H "Authorization: Bearer $ROOT_TOKEN" >"$BATS_TEST_TMPDIR/m"
	[ "$(tail -n 1 "$BATS_TEST_TMPDIR/m")" = 200 ]
	sed '$d' "$BATS_TEST_TMPDIR/m" >"$BATS_TEST_TMPDIR/metrics"
	run promtool check metrics <"$BATS_TEST_TMPDIR/metrics"
	echo "$output"
	[ "$status" -eq 0 ]
	m="$BATS_TEST_TMPDIR/metrics"
	grep -q '^trellis_link_tx_bytes_total{slice="h130a",link="r1:eth1-r2:eth1",router="r1",ifname="eth1",node="'"$T_NODE"'"} [0-9]' "$m"
	grep -q '^trellis_router_up{slice="h130b",router="r2",node="'"$T_NODE"'"} 1$' "$m"
	grep -q '^trellis_htb_class_bytes_total{slice="h130a",link="r1:eth1-r2:eth1",from="r1:eth1"' "$m"
	grep -q '^trellis_link_rate_bytes_per_second{slice="h130a",link="r1:eth1-r2:eth1",node="'"$T_NODE"'"} 2500000$' "$m"
	grep -q '^trellis_fastpath_drops_total{node="'"$T_NODE"'",reason="unknown_key"} ' "$m"
	grep -q '^trellis_daemon_uptime_seconds{node="'"$T_NODE"'"} ' "$m"
	for f in $(awk '/^# TYPE/ {print $3}' "$m"); do
		grep -q "^\.B $f\$" "$TRELLIS_SRC/man/trellisd.8" || { echo "'$f' is not in trellisd(8)"; return 1; }
	done
}

@test "tokens: none or a wrong one is 401 and says nothing of the slices" {
	for args in "" "-H Authorization:Bearer_x" "-H Authorization: Bearer ${ROOT_TOKEN}x" \
		"-H Authorization: Bearer ${ROOT_TOKEN:0:40}" "-H Authorization: Basic $ROOT_TOKEN"; do
		for p in /metrics /api/slices /api/slice/h130a /api/node; do
			if [ -n "$args" ]; then run hc "$p" "${args%% *}" "${args#* }"; else run hc "$p"; fi
			[ "${lines[-1]}" = 401 ] || { echo "$p with '$args': ${lines[-1]}"; return 1; }
			[[ "$output" != *h130* ]]
			[[ "$output" != *"$T_NODE"* ]]
		done
	done
	run curl -sS -D - -o /dev/null "http://127.0.0.1:$HP/metrics"
	[[ "$output" == *"WWW-Authenticate: Bearer"* ]]
	# The page's files hold no data: served to anyone.
	run hc /
	[ "${lines[-1]}" = 200 ]
	[[ "$output" == *"<script src=\"app.js\">"* ]]
}

@test "a tenant's token sees its own slices only, as the socket does" {
	run hc /api/slices -H "Authorization: Bearer $TENANT_TOKEN"
	[ "${lines[-1]}" = 200 ]
	[ "$(echo "${lines[0]}" | jq -c '[.slices[].name]')" = '["h130b"]' ]
	run hc /api/slice/h130a -H "Authorization: Bearer $TENANT_TOKEN"
	[ "${lines[-1]}" = 404 ]
	[ "${lines[0]}" = "no slice 'h130a'" ]
	run hc /api/slice/h130b -H "Authorization: Bearer $TENANT_TOKEN"
	[ "${lines[-1]}" = 200 ]
	run hc /metrics -H "Authorization: Bearer $TENANT_TOKEN"
	[ "${lines[-1]}" = 200 ]
	[[ "$output" == *'slice="h130b"'* ]]
	[[ "$output" != *h130a* ]]
	[[ "$output" == *"trellis_node_slices{node=\"$T_NODE\"} 1"* ]]
	# Root's token sees both.
	run hc /api/slices -H "Authorization: Bearer $ROOT_TOKEN"
	[ "$(echo "${lines[0]}" | jq -c '[.slices[].name] | sort')" = '["h130a","h130b"]' ]
}

@test "path traversal is refused and reads nothing" {
	for p in "/../../../etc/passwd" "/%2e%2e/%2e%2e/etc/passwd" "/api/slice/..%2f..%2fetc%2fpasswd" \
		"/api/slice/../h130a" "//etc/passwd" "/app.js/../../etc/passwd" "/%5c..%5cetc/passwd"; do
		run hc "$p" --path-as-is -H "Authorization: Bearer $ROOT_TOKEN"
		case "${lines[-1]}" in 400 | 404) ;; *) echo "$p: ${lines[-1]}"; return 1 ;; esac
		[[ "$output" != *root:x:* ]]
	done
	run hc /etc/passwd -H "Authorization: Bearer $ROOT_TOKEN"
	[ "${lines[-1]}" = 404 ]
}

@test "oversized and non-GET requests: 431, 414, 413, 405" {
	big=$(head -c 20000 /dev/zero | tr '\0' a)
	run hc /metrics -H "Authorization: Bearer $ROOT_TOKEN" -H "X-Big: $big"
	[ "${lines[-1]}" = 431 ]
	run hc "/$big" -H "Authorization: Bearer $ROOT_TOKEN"
	case "${lines[-1]}" in 414 | 431) ;; *) echo "long URL: ${lines[-1]}"; return 1 ;; esac
	run hc /metrics -X GET --data-binary "@$T_DIR/h130a.yaml" -H "Authorization: Bearer $ROOT_TOKEN"
	[ "${lines[-1]}" = 413 ]
	run hc /metrics -X POST -d x -H "Authorization: Bearer $ROOT_TOKEN"
	[ "${lines[-1]}" = 405 ]
	# The daemon still answers.
	run hc /api/node -H "Authorization: Bearer $ROOT_TOKEN"
	[ "${lines[-1]}" = 200 ]
}

@test "a client that drips its request or sends nothing is cut at request-timeout" {
	run python3 - "$HP" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
def drip(first):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(0.5)
    t0 = time.time()
    if first:
        s.sendall(first)
    while time.time() - t0 < 15:
        try:
            s.sendall(b"X-Slow: a\r\n" if first else b"")
            if s.recv(4096) == b"":
                return time.time() - t0
        except socket.timeout:
            pass
        except (ConnectionResetError, BrokenPipeError):
            return time.time() - t0
    return None
for first in (b"GET /metrics HTTP/1.1\r\nHost: x\r\n", b""):
    t = drip(first)
    print("cut after", t)
    if t is None or t > 5.5:
        sys.exit(1)
EOF
	echo "$output"
	[ "$status" -eq 0 ]
	run hc /metrics -H "Authorization: Bearer $ROOT_TOKEN"
	[[ "$output" =~ trellis_http_connections_cut_total\{node=\"$T_NODE\"\}\ [1-9] ]]
}

@test "connections are capped; the endpoint serves again once they go" {
	run python3 - "$HP" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
time.sleep(0.3)
closed = 0
for s in held:
    s.settimeout(0.2)
    try:
        if s.recv(1) == b"":
            closed += 1
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed += 1
print("closed at once:", closed, "of", len(held))
for s in held:
    s.close()
sys.exit(0 if closed >= 40 - 32 else 1)
EOF
	echo "$output"
	[ "$status" -eq 0 ]
	sleep 0.5
	run hc /api/node -H "Authorization: Bearer $ROOT_TOKEN"
	[ "${lines[-1]}" = 200 ]
}

@test "Prometheus scrapes trellisd; PromQL's link byte counter matches slice stats" {
	command -v prometheus >/dev/null || skip "prometheus not installed"
	pp=$(free_port)
	pd="$BATS_FILE_TMPDIR/prom"
	mkdir -p "$pd/data"
	printf '%s\n' "$ROOT_TOKEN" >"$pd/token"
	cat >"$pd/prometheus.yml" <<EOS
global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: trellis
    authorization: {type: Bearer, credentials_file: $pd/token}
    static_configs: [{targets: ['127.0.0.1:$HP']}]
EOS
	prometheus --config.file="$pd/prometheus.yml" --storage.tsdb.path="$pd/data" \
		--web.listen-address="127.0.0.1:$pp" --log.level=warn >"$pd/log" 2>&1 &
	echo $! >"$BATS_FILE_TMPDIR/prom.pid"
	# Traffic over the link, then a quiet moment: the counter stands still.
	trellis slice exec h130a r1 -- ping -c 20 -i 0.01 -q 10.130.0.2 >/dev/null
	q='trellis_link_tx_bytes_total{slice="h130a",router="r1",ifname="eth1"}'
	before=$(trellis --json slice stats h130a | jq '.links[].ports[] | select(.router == "r1" and .ifname == "eth1") | .bytes')
	t0=$(date +%s.%N)
	val="" ts=0
	for _ in $(seq 60); do
		out=$(curl -sS -G "http://127.0.0.1:$pp/api/v1/query" --data-urlencode "query=timestamp($q)" 2>/dev/null) || out=""
		ts=$(echo "$out" | jq -r '.data.result[0].value[1] // 0' 2>/dev/null || echo 0)
		if [ "$(echo "$ts > $t0" | bc)" = 1 ]; then
			val=$(curl -sS -G "http://127.0.0.1:$pp/api/v1/query" --data-urlencode "query=$q" |
				jq -r '.data.result[0].value[1]')
			break
		fi
		sleep 0.5
	done
	after=$(trellis --json slice stats h130a | jq '.links[].ports[] | select(.router == "r1" and .ifname == "eth1") | .bytes')
	echo "slice stats before $before, PromQL $val (scraped at $ts), slice stats after $after"
	[ -n "$val" ]
	[ "$before" -gt 2000 ]	# 20 pings of 98 bytes went this way
	[ "$val" -ge "$before" ]
	[ "$val" -le "$after" ]
	# On a quiet link they are the same number.
	if [ "$before" = "$after" ]; then [ "$val" = "$before" ]; fi
	kill "$(cat "$BATS_FILE_TMPDIR/prom.pid")"
}

# page-check.js with one JSON argument; skips (saying why) when the browser cannot start here.
page_check() {
	command -v node >/dev/null || skip "node not installed"
	[ -x /usr/bin/chromium ] || [ -n "${CHROMIUM:-}" ] || skip "chromium not installed"
	if [ ! -d "$TRELLIS_SRC/tests/browser/node_modules/puppeteer-core" ]; then
		(cd "$TRELLIS_SRC/tests/browser" && PUPPETEER_SKIP_DOWNLOAD=1 npm install --no-audit --no-fund >/dev/null 2>&1) ||
			skip "puppeteer-core could not be installed from npm (tests/browser)"
	fi
	run timeout 60 node "$TRELLIS_SRC/tests/browser/page-check.js" \
		"$(echo "$1" | jq -c --arg p "$BATS_FILE_TMPDIR/chromium" '. + {profile: $p}')"
	echo "$output"
	[ "$status" -ne 77 ] || skip "${lines[-1]}"
}

@test "the page in Chromium: every router and link drawn, a link taken down is red within 2 s, fits a phone" {
	art=${TRELLIS_ARTIFACTS:-$TRELLIS_SRC/tests/artifacts}
	mkdir -p "$art"
	routers=$(trellis --json slice show h130a | jq -c '[.routers[].name]')
	links=$(trellis --json slice show h130a | jq -c '[.links[].name]')
	cmd=$(jq -nc --arg b "$TRELLIS_BIN" --arg s "$T_SOCK" '[$b, "--socket", $s, "link", "down", "h130a", "r2:eth2-r3:eth1"]')
	page_check "{\"url\": \"http://127.0.0.1:$HP/#token=$ROOT_TOKEN\", \"slice\": \"h130a\",
		\"routers\": $routers, \"links\": $links,
		\"down\": {\"link\": \"r2:eth2-r3:eth1\", \"cmd\": $cmd}, \"screenshot\": \"$art/130-http-page.png\",
		\"phone\": \"$art/130-http-phone.png\"}"
	[ "$status" -eq 0 ]
	res=$(echo "$output" | grep '^{')
	[ "$(echo "$res" | jq -c '.routers | sort')" = '["r1","r2","r3"]' ]
	[ "$(echo "$res" | jq -c '.links | sort')" = '["r1:eth1-r2:eth1","r2:eth2-r3:eth1"]' ]
	[ "$(echo "$res" | jq -r .stroke_before)" = "rgb(40, 150, 60)" ]
	[ "$(echo "$res" | jq -r .stroke)" = "rgb(220, 0, 0)" ]
	[ "$(echo "$res" | jq -r .down_ms)" -le 2000 ]
	[ -s "$art/130-http-page.png" ]
	[ -s "$art/130-http-phone.png" ]
	echo "# screenshots: $art/130-http-page.png, $art/130-http-phone.png (link down after $(echo "$res" | jq -r .down_ms) ms)" >&3
	trellis -q link up h130a r2:eth2-r3:eth1
}

@test "the page in Chromium with a tenant's token shows its slices only" {
	page_check "{\"url\": \"http://127.0.0.1:$HP/#token=$TENANT_TOKEN\", \"slice\": \"h130b\",
		\"routers\": [\"r1\", \"r2\"], \"links\": [\"r1:eth1-r2:eth1\"]}"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | grep '^{' | jq -c .slices)" = '["h130b"]' ]
	# And with a wrong token the page says so and draws nothing.
	page_check "{\"url\": \"http://127.0.0.1:$HP/#token=${TENANT_TOKEN}x\"}"
	[ "$status" -eq 0 ]
	res=$(echo "$output" | grep '^{')
	[ "$(echo "$res" | jq -c .slices)" = '[]' ]
	[[ "$(echo "$res" | jq -r .status)" == *401* ]]
}

@test "beyond loopback: refused without TLS and tokens; with them, HTTPS, tokens and client certificates" {
	command -v openssl >/dev/null || skip "openssl not installed"
	d=$(mktemp -d /tmp/trellis-test-130-tls.XXXXXX)
	chmod 711 "$d"
	echo "$d" >"$BATS_FILE_TMPDIR/tls.dir"
	node="t130tls$$"
	run "$TRELLISD" --state-dir "$d/state" --socket "$d/s.sock" --node "$node" --http "0.0.0.0:$(free_port)"
	[ "$status" -ne 0 ]
	[[ "$output" == *"beyond loopback: it needs TLS"* ]]
	# A token file others can read is refused.
	chmod 644 "$T_TOKENS"
	run "$TRELLISD" --state-dir "$d/state" --socket "$d/s.sock" --node "$node" --http "127.0.0.1:$(free_port)" \
		--http-tokens "$T_TOKENS"
	chmod 600 "$T_TOKENS"
	[ "$status" -ne 0 ]
	[[ "$output" == *"http-tokens '$T_TOKENS': must be a file owned by root, readable by no one else"* ]]
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/key.pem" -out "$d/cert.pem" -days 1 \
		-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
	# A CA for client certificates, one it signed and one it did not.
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" -days 1 -subj /CN=t130-ca 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -keyout "$d/client.key" -out "$d/client.csr" -subj /CN=t130-client 2>/dev/null
	openssl x509 -req -in "$d/client.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 1 \
		-out "$d/client.pem" 2>/dev/null
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/rogue.key" -out "$d/rogue.pem" -days 1 -subj /CN=t130-client 2>/dev/null
	tp=$(free_port)
	"$TRELLISD" --state-dir "$d/state" --socket "$d/s.sock" --node "$node" --template-path "$TRELLIS_SRC/container-templates" \
		--http "0.0.0.0:$tp" --http-tokens "$T_TOKENS" --http-cert "$d/cert.pem" --http-key "$d/key.pem" \
		--http-client-ca "$d/ca.pem" >"$d/log" 2>&1 &
	echo $! >"$BATS_FILE_TMPDIR/tls.pid"
	for _ in $(seq 50); do curl -s --cacert "$d/cert.pem" "https://127.0.0.1:$tp/" >/dev/null && break; sleep 0.1; done
	run curl -sS --cacert "$d/cert.pem" -w '\n%{http_code}' -H "Authorization: Bearer $ROOT_TOKEN" "https://127.0.0.1:$tp/api/node"
	[ "${lines[-1]}" = 200 ]
	[ "$(echo "${lines[0]}" | jq -r .name)" = "$node" ]
	run curl -sS --cacert "$d/cert.pem" -w '\n%{http_code}' "https://127.0.0.1:$tp/api/node"
	[ "${lines[-1]}" = 401 ]
	# A client certificate the CA signed gets in without a token; one it did not sign does not.
	run curl -sS --cacert "$d/cert.pem" --cert "$d/client.pem" --key "$d/client.key" -w '\n%{http_code}' \
		"https://127.0.0.1:$tp/api/node"
	[ "${lines[-1]}" = 200 ]
	run curl -sS --cacert "$d/cert.pem" --cert "$d/rogue.pem" --key "$d/rogue.key" -w '\n%{http_code}' \
		"https://127.0.0.1:$tp/api/node"
	[ "${lines[-1]}" = 401 ] || [ "$status" -ne 0 ]
	[[ "$output" != *"\"name\""* ]]
	# Plain HTTP on the TLS port gets no answer.
	run curl -sS --max-time 3 "http://127.0.0.1:$tp/api/node"
	[ "$status" -ne 0 ]
	kill -TERM "$(cat "$BATS_FILE_TMPDIR/tls.pid")"
	for _ in $(seq 50); do kill -0 "$(cat "$BATS_FILE_TMPDIR/tls.pid")" 2>/dev/null || break; sleep 0.1; done
	rm -f "$BATS_FILE_TMPDIR/tls.pid"
	rm -rf "/sys/fs/bpf/trellis/$node" "$d"
}
