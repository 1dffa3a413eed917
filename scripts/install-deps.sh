#!/usr/bin/env bash
# Install the Debian 12 packages trellis needs to build, run and test.
# Usage: scripts/install-deps.sh          (as root; idempotent)
set -euo pipefail

PKGS=(
  # build
  build-essential autoconf automake libtool pkg-config
  # libraries
  lxc lxc-dev libfyaml-dev libjansson-dev libsqlite3-dev
  libnl-3-dev libnl-route-3-dev libcgroup-dev cgroup-tools libseccomp-dev
  libbpf-dev bpftool clang llvm libelf-dev zlib1g-dev libcmocka-dev libcurl4-openssl-dev
  # link capture's filters (tcpdump expressions compiled by libpcap)
  libpcap-dev
  # cluster mode (trellisd --cluster) and its tests (openssl: 102's CA and certificates)
  etcd-server etcd-client openssl
  # fuzzing (libFuzzer comes with clang's runtime) and memory checking
  libclang-rt-14-dev valgrind
  # runtime
  frr bird2 uidmap iproute2 sqlite3
  # limits: disk: (a router's rootfs on its own ext4: mke2fs)
  e2fsprogs
  # tests and benchmarks
  bats iperf3 netsniff-ng tcpdump tshark procps psmisc util-linux jq iputils-ping ethtool bc tmux socat python3
  # the HTTP endpoint (trellisd --http): libmicrohttpd, gnutls for client
  # certificates; its tests: promtool and a real Prometheus, curl, headless
  # Chromium driven by puppeteer-core from npm (tests/browser)
  libmicrohttpd-dev libgnutls28-dev prometheus curl chromium nodejs
  # trellis slice graph --format svg runs Graphviz's dot (trellis(8))
  graphviz
  # sd_notify readiness (trellisd.service, Type=notify); the Debian package
  # (make deb, tests/integration/200-package.bats) and its checks
  libsystemd-dev debhelper dpkg-dev lintian
  # ssh login to slices (trellisd.conf(5)); tests start their own sshd on loopback
  openssh-server openssh-client
)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: must run as root (apt-get)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm: Debian's package, unless the installed nodejs brings its own (NodeSource's
# nodejs conflicts with Debian's npm).
if ! command -v npm >/dev/null; then
  apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
# The browser test's runner (tests/browser): puppeteer-core with the system's
# Chromium, never a browser download.
src=$(cd "$(dirname "$0")/.." && pwd)
if [ -f "$src/tests/browser/package.json" ] && [ ! -d "$src/tests/browser/node_modules/puppeteer-core" ]; then
  (cd "$src/tests/browser" && PUPPETEER_SKIP_DOWNLOAD=1 npm install --no-audit --no-fund >/dev/null) ||
    echo "install-deps: npm install in tests/browser failed (the browser tests will skip)" >&2
fi

# Unprivileged containers: root needs subordinate uid/gid ranges for the slices.
# trellis allocates 65536-wide ranges from this block (see trellisd(8)).
for f in /etc/subuid /etc/subgid; do
  touch "$f"
  grep -q '^root:1000000:' "$f" || echo 'root:1000000:268435456' >>"$f"
done
echo "install-deps: done"
