#!/usr/bin/env bash
# One command for a new Debian 12 machine (as root): install the packages,
# build trellis, start trellisd on the embedded default (single node, SQLite
# state in /var/lib/trellis, socket /run/trellis/trellisd.sock), deploy the
# OSPF pair from examples/ and show it routing.  The slice stays up so you can
# log in; the script prints how to clean up.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${TRELLIS_BUILD:-$src/build}
sock=${TRELLIS_SOCKET:-/run/trellis/trellisd.sock}
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Installing Debian packages"
"$src/scripts/install-deps.sh"

step "Building in $build"
(cd "$src" && ./autogen.sh >/dev/null 2>&1)
mkdir -p "$build"
[ -f "$build/Makefile" ] || (cd "$build" && "$src/configure" -q)
make -C "$build" -j"$(nproc)" -s
trellis="$build/cli/trellis --socket $sock"

step "Starting trellisd (state /var/lib/trellis, socket $sock)"
if $trellis node show >/dev/null 2>&1; then
	echo "trellisd is already running"
else
	mkdir -p /var/log
	nohup "$build/trellisd/trellisd" --socket "$sock" >>/var/log/trellisd.log 2>&1 &
	mkdir -p /run/trellis && echo $! >/run/trellis/trellisd.pid
	for _ in $(seq 50); do $trellis node show >/dev/null 2>&1 && break; sleep 0.1; done
	echo "trellisd started (pid $!), logging to /var/log/trellisd.log"
fi
$trellis node show

step "Creating the slice from examples/ospf-pair.yaml"
if $trellis slice show pair >/dev/null 2>&1; then
	echo "slice 'pair' exists already"
else
	$trellis slice create -f "$src/examples/ospf-pair.yaml"
fi

step "Waiting for OSPF to converge and install routes"
for _ in $(seq 60); do
	$trellis slice exec pair r1 -- ip route show 10.255.0.2 2>/dev/null | grep -q ospf && break
	sleep 1
done
$trellis slice exec pair r1 -- vtysh -c 'show ip ospf neighbor'
$trellis slice exec pair r1 -- ip route

step "Pinging r2's loopback from r1's loopback, across the slice"
$trellis slice exec pair r1 -- ping -c 3 -I 10.255.0.1 10.255.0.2

cat <<EOT

The slice is running.  Try:
  $build/cli/trellis slice show pair
  $build/cli/trellis slice login pair r1      # then: vtysh
  $build/cli/trellis slice delete pair        # when you are done
  kill $(cat /run/trellis/trellisd.pid 2>/dev/null || echo PID)   # stop the daemon (slices keep running)
EOT
