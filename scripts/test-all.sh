#!/usr/bin/env bash
# The whole trellis test suite on a new Debian 12 machine (as root):
# installs what it needs, builds out of tree in build/, runs the C unit tests
# (make check) and the bats integration tests, and ends with one line:
#   N passed, N failed, N skipped
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${TRELLIS_BUILD:-$src/build}
log=$build/test-all.log

"$src/scripts/install-deps.sh" || exit 1
( cd "$src" && ./autogen.sh >/dev/null 2>&1 ) || { echo "autogen failed" >&2; exit 1; }
mkdir -p "$build"
if [ ! -f "$build/Makefile" ]; then
	( cd "$build" && "$src/configure" -q ${TRELLIS_CONFIGURE_FLAGS:---enable-werror} ) || exit 1
fi
make -C "$build" -j"$(nproc)" -s >/dev/null || { make -C "$build" 2>&1 | tail -30; exit 1; }

pass=0 fail=0 skip=0
# Unit tests: automake's TAP driver writes one .trs per program.
make -C "$build" -s -k check >"$log" 2>&1
for trs in "$build"/tests/unit/*.trs; do
	[ -f "$trs" ] || continue
	while read -r key val; do
		case "$key" in
		:test-result:) ;;
		*) continue ;;
		esac
		case "$val" in
		PASS* | XFAIL*) pass=$((pass + 1)) ;;
		SKIP*) skip=$((skip + 1)) ;;
		*) fail=$((fail + 1)) ;;
		esac
	done < <(grep '^:test-result:' "$trs" | sed 's/^:test-result: /:test-result: /')
done
grep -E '^(FAIL|ERROR)' "$log" || true
echo "unit tests: $pass passed, $fail failed, $skip skipped"

# Integration tests (bats, TAP).
upass=$pass ufail=$fail uskip=$skip
tap=$("$src/tests/run-integration" "$build" 2>&1 | tee -a "$log" | tee /dev/stderr)
ipass=$(grep -cE '^ok [0-9]+' <<<"$tap" | tr -d ' ')
iskip=$(grep -cE '^ok [0-9]+ .*# skip' <<<"$tap" | tr -d ' ')
ifail=$(grep -cE '^not ok [0-9]+' <<<"$tap" | tr -d ' ')
ipass=$((ipass - iskip))
echo "integration tests: $ipass passed, $ifail failed, $iskip skipped"
echo "$((upass + ipass)) passed, $((ufail + ifail)) failed, $((uskip + iskip)) skipped"
[ $((ufail + ifail)) -eq 0 ]
