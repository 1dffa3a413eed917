#!/usr/bin/env bats
# The Debian package: 'make deb' builds trellis_*.deb (lintian clean), dpkg -i
# installs it, trellisd starts the way trellisd.service starts it (no systemd
# as PID 1 here: its ExecStart line by hand, readiness read from
# NOTIFY_SOCKET as systemd would), an installed example deploys, and
# dpkg --purge leaves nothing behind.
#
# The installed trellisd gets this file's own state dir, socket and node name
# on top of the unit's ExecStart, so no other trellisd on the host is touched.
# Skipped (with the reason) where the build tools are missing or a trellis is
# installed already: this test never replaces someone's installation.

load helpers

BUILD_TRELLIS_BIN=$TRELLIS_BIN

setup_file() {
	require_root
	local t
	for t in dpkg-buildpackage dh lintian systemd-analyze python3; do
		command -v "$t" >/dev/null || skip "needs $t (scripts/install-deps.sh installs it)"
	done
	if dpkg-query -W -f='${Status}' trellis 2>/dev/null | grep -q installed || [ -e /etc/trellis ] ||
		[ -e /usr/sbin/trellisd ] || [ -e /lib/systemd/system/trellisd.service ]; then
		skip "a trellis is installed on this host already: not replacing it"
	fi
	T_DIR=$(mktemp -d /tmp/trellis-test-200.XXXXXX)
	chmod 711 "$T_DIR"
	export T_DIR T_SOCK="$T_DIR/trellisd.sock" T_NODE="t200-$$"
	T_NODE=${T_NODE:0:15}
	cp /etc/subuid "$T_DIR/subuid.before"
	cp /etc/subgid "$T_DIR/subgid.before"
	# the package, from this build's 'make deb' (dist tarball, dpkg-buildpackage)
	rm -f "$TRELLIS_BUILD"/trellis_*.deb "$TRELLIS_BUILD"/trellis-dbgsym_*.deb
	SECONDS=0
	make -C "$TRELLIS_BUILD" -s deb >"$T_DIR/deb.log" 2>&1 || {
		tail -40 "$T_DIR/deb.log" >&3
		return 1
	}
	echo "# make deb: ${SECONDS}s" >&3
}

teardown_file() {
	[ -n "${T_DIR:-}" ] || return 0
	# the daemon first (its slices), then the package if it is still there
	TRELLIS_BIN=$BUILD_TRELLIS_BIN
	stop_daemon_keep_dir
	if dpkg-query -W -f='${Status}' trellis 2>/dev/null | grep -q installed; then
		dpkg --purge trellis >/dev/null 2>&1 || true
	fi
	rm -rf "$T_DIR"
}

# helpers' stop_daemon, without removing $T_DIR (the purge checks need it)
stop_daemon_keep_dir() {
	local pid s
	pid=$(cat "$T_DIR/trellisd.pid" 2>/dev/null || true)
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		for s in $(trellis --json slice list 2>/dev/null | jq -r '.slices[].name' 2>/dev/null); do
			trellis -q slice delete "$s" >/dev/null 2>&1 || true
		done
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$T_DIR/trellisd.pid"
	rm -rf "/sys/fs/bpf/trellis/$T_NODE"
	rmdir /sys/fs/bpf/trellis 2>/dev/null || true
}

deb() {
	ls "$TRELLIS_BUILD"/trellis_*_*.deb
}

@test "the package builds and lintian has nothing to say" {
	[ -f "$(deb)" ]
	run lintian --pedantic "$TRELLIS_BUILD"/trellis_*.changes
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$(echo "$output" | grep -E '^[EWIP]: ' || true)" ]
	# Depends: what trellisd runs (and the libraries it links)
	depends=$(dpkg-deb -f "$(deb)" Depends)
	for p in lxc frr uidmap iproute2 e2fsprogs liblxc1 libsystemd0; do
		[[ "$depends" == *"$p"* ]] || { echo "Depends lacks $p: $depends"; false; }
	done
}

@test "dpkg -i installs the programs, templates, man pages, completion, settings and the unit" {
	dpkg -i "$(deb)" >"$T_DIR/install.log" 2>&1 || { cat "$T_DIR/install.log"; false; }
	dpkg -L trellis >"$T_DIR/files"
	for f in /usr/bin/trellis /usr/bin/trellis-ssh /usr/sbin/trellisd /usr/libexec/trellis/trellis-lxc-helper \
		/usr/share/trellis/templates/frr/template.conf /usr/share/trellis/templates/plain/template.conf \
		/usr/share/bash-completion/completions/trellis /etc/trellis/trellisd.conf \
		/lib/systemd/system/trellisd.service /usr/share/doc/trellis/examples/ospf-pair.yaml; do
		[ -e "$f" ] || { echo "missing $f"; false; }
		grep -qx "$f" "$T_DIR/files"
	done
	for m in trellis trellisd trellis-ssh trellisd.conf trellis-slice; do
		man -w "$m" | grep -q '^/usr/share/man/'
	done
	# the settings are a conffile, and trellisd accepts them as shipped
	dpkg-query -W -f='${Conffiles}' trellis | grep -q /etc/trellis/trellisd.conf
	# root has a subordinate range (postinst adds one where there is none)
	grep -q '^root:[0-9]*:[0-9]*$' /etc/subuid
	grep -q '^root:[0-9]*:[0-9]*$' /etc/subgid
	# the completion is the installed trellis's own
	[ "$(cat /usr/share/bash-completion/completions/trellis)" = "$(/usr/bin/trellis completion bash)" ]
	# the unit: valid for systemd, Type=notify (built with libsystemd), restarts on failure
	run systemd-analyze verify /lib/systemd/system/trellisd.service
	echo "$output"
	[ "$status" -eq 0 ]
	grep -qx 'Type=notify' /lib/systemd/system/trellisd.service
	grep -qx 'Restart=on-failure' /lib/systemd/system/trellisd.service
	grep -qx 'ExecStart=/usr/sbin/trellisd' /lib/systemd/system/trellisd.service
}

@test "trellisd starts as the unit starts it, says READY=1, and runs an installed example" {
	dpkg-query -W -f='${Status}' trellis | grep -q 'install ok installed'
	exec_start=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/trellisd.service)
	[ -x "${exec_start%% *}" ]
	# systemd's side of sd_notify: a datagram socket in NOTIFY_SOCKET
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); s.settimeout(60)
print(s.recv(4096).decode(), flush=True)' "$T_DIR/notify" >"$T_DIR/notified" 2>&1 &
	listener=$!
	for _ in $(seq 50); do [ -S "$T_DIR/notify" ] && break; sleep 0.1; done
	# the unit's command line, plus this test's own state, socket and node
	NOTIFY_SOCKET="$T_DIR/notify" $exec_start --state-dir "$T_DIR/state" --socket "$T_SOCK" --node "$T_NODE" \
		>"$T_DIR/trellisd.log" 2>&1 3>&- &
	echo $! >"$T_DIR/trellisd.pid"
	wait "$listener"
	cat "$T_DIR/notified"
	grep -q '^READY=1' "$T_DIR/notified"
	grep -q "STATUS=node '$T_NODE'" "$T_DIR/notified"
	TRELLIS_BIN=/usr/bin/trellis
	run trellis --json node show
	[ "$status" -eq 0 ]
	[[ "$(echo "$output" | jq -r .templates)" == *frr* ]]
	# the installed templates, not the source tree's
	grep -q 'templates /usr/share/trellis/templates' "$T_DIR/trellisd.log"
	# an example as the package installs it, under this file's slice name
	mkdir -p "$T_DIR/ex"
	cp /usr/share/doc/trellis/examples/* "$T_DIR/ex/"
	sed -i -E 's/^slice: .*/slice: t200/' "$T_DIR/ex/ospf-pair.yaml"
	run trellis slice create -f "$T_DIR/ex/ospf-pair.yaml"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(trellis --json slice show t200 | jq -r .state)" = ready ]
	wait_for 60 sh -c "/usr/bin/trellis --socket '$T_SOCK' slice exec t200 r1 -- vtysh -c 'show ip ospf neighbor' | grep -q Full"
	# r2's loopback, learned over OSPF (routes follow the adjacency by an SPF run)
	wait_for 30 /usr/bin/trellis --socket "$T_SOCK" slice exec t200 r1 -- ping -c1 -W1 10.255.0.2
	trellis -q slice delete t200
}

@test "dpkg --purge leaves nothing behind" {
	dpkg-query -W -f='${Status}' trellis | grep -q 'install ok installed'
	TRELLIS_BIN=/usr/bin/trellis
	stop_daemon_keep_dir
	dpkg --purge trellis >"$T_DIR/purge.log" 2>&1 || { cat "$T_DIR/purge.log"; false; }
	run dpkg-query -W -f='${Status}' trellis
	[[ "$output" != *installed* ]]
	# every file the package had is gone, and so are its settings and the unit's links
	while read -r f; do
		[ -d "$f" ] && continue
		[ ! -e "$f" ] || { echo "left behind: $f"; false; }
	done <"$T_DIR/files"
	[ ! -e /etc/trellis ]
	[ ! -e /etc/systemd/system/multi-user.target.wants/trellisd.service ]
	[ ! -e /var/lib/trellis-package ]
	[ -z "$(ls /var/lib/systemd/deb-systemd-helper-enabled 2>/dev/null | grep trellisd || true)" ]
	# root's ranges in /etc/subuid and /etc/subgid as they were (other lines
	# are other programs': tests add and remove accounts meanwhile)
	[ "$(grep '^root:' /etc/subuid)" = "$(grep '^root:' "$T_DIR/subuid.before")" ]
	[ "$(grep '^root:' /etc/subgid)" = "$(grep '^root:' "$T_DIR/subgid.before")" ]
}
