#!/usr/bin/env bash
# The whole trellis test suite on a new Debian 12 machine (as root):
# installs what it needs, builds out of tree in build/, lints the bats files
# (tests/lint-bats, and its self-test), runs the C unit tests
# (make check), a short libFuzzer run per fuzz target (build/fuzz, clang;
# TRELLIS_FUZZ_TIME seconds each, default 20) and the bats integration tests,
# and ends with one line:
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

# Lint first: the bats files must hold no check that cannot fail
# (tests/README.md), and the lint must still find a planted one.
lpass=0 lfail=0 failures=
if out=$("$src/tests/lint-bats" 2>&1); then
	echo "ok lint-bats: tests/integration"
	lpass=$((lpass + 1))
else
	echo "not ok lint-bats: tests/integration"
	echo "$out" | sed 's/^/#   /'
	lfail=$((lfail + 1))
	failures+=$'\n'"lint: $(head -n 3 <<<"$out" | tr '\n' ';')"
fi
selftest=$("$src/tests/lint-bats" --self-test 2>&1)
echo "$selftest" | grep -E '^not ok' | sed 's/^/lint-bats --self-test: /'
lpass=$((lpass + $(grep -cE '^ok ' <<<"$selftest")))
n=$(grep -cE '^not ok ' <<<"$selftest")
if [ "$n" -gt 0 ] || ! grep -qE '^1\.\.[1-9]' <<<"$selftest"; then
	lfail=$((lfail + (n > 0 ? n : 1)))
	failures+=$'\n'"lint: --self-test: $(grep -m2 -E '^not ok|rror' <<<"$selftest" | tr '\n' ';')"
fi
echo "lint: $lpass passed, $lfail failed"

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
# The failing checks themselves, kept for the summary at the end (CI shows
# only the tail of this output).
for trs in "$build"/tests/unit/*.trs; do
	grep -qE '^:test-result: (FAIL|ERROR)' "$trs" 2>/dev/null || continue
	l=${trs%.trs}.log t=$(basename "$trs" .trs)
	echo "# $t:"
	grep -E '^(not ok|Bail out|#)' "$l" | head -40
	failures+=$'\n'"unit $t: $(grep -m3 -E '^(not ok|Bail out)' "$l" | tr '\n' ';')"
	grep -q ':test-result: ERROR' "$trs" && failures+=" (exited abnormally)"
done
echo "unit tests: $pass passed, $fail failed, $skip skipped"

upass=$pass ufail=$fail uskip=$skip

# Fuzzing: a short libFuzzer run per target (tests/fuzz/README.md), built in
# its own directory so the main build stays a normal one.  Each target is one
# test: passed when it ran its time without a crash, leak or UB report.
fpass=0 ffail=0 fskip=0
fuzz_time=${TRELLIS_FUZZ_TIME:-20}
fuzz_targets=(spec proto)
fbuild=$build/fuzz
fuzz_why=
mkdir -p "$fbuild"
if [ ! -f "$fbuild/Makefile" ] &&
	! out=$(cd "$fbuild" && "$src/configure" -q --enable-fuzz 2>&1 >/dev/null); then
	fuzz_why=$(grep 'error:' <<<"$out" | tail -n 1)
	fuzz_why=${fuzz_why:-configure --enable-fuzz failed}
	rm -f "$fbuild/Makefile"
elif ! make -C "$fbuild" -j"$(nproc)" -s fuzz >>"$log" 2>&1; then
	fuzz_why="building the fuzz targets failed (see $log)"
	fpass=0 ffail=${#fuzz_targets[@]}
	echo "not ok fuzz: $fuzz_why"
	failures+=$'\n'"fuzz: $fuzz_why"
	fuzz_targets=()
fi
for t in "${fuzz_targets[@]}"; do
	if [ -n "$fuzz_why" ]; then
		echo "ok fuzz-$t # skip ${fuzz_why##*error: }"
		fskip=$((fskip + 1))
		continue
	fi
	work=$(mktemp -d)
	# New inputs go to a scratch corpus; the committed seeds are read only.
	if "$fbuild/tests/fuzz/fuzz-$t" -max_total_time="$fuzz_time" -print_final_stats=1 \
		-dict="$src/tests/fuzz/trellis.dict" -artifact_prefix="$work/" -max_len=16384 -timeout=10 \
		"$work" "$src/tests/fuzz/corpus/$t" >"$work/log" 2>&1; then
		echo "ok fuzz-$t: $(awk '/stat::number_of_executed_units/ {print $2}' "$work/log") executions in ${fuzz_time} s"
		fpass=$((fpass + 1))
	else
		echo "not ok fuzz-$t: crash or sanitizer report:"
		grep -E 'ERROR:|SUMMARY|Test unit written|runtime error' "$work/log" | sed 's/^/#   /'
		failures+=$'\n'"fuzz: not ok fuzz-$t: $(grep -m1 -E 'ERROR:|runtime error' "$work/log")"
		for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
			[ -f "$a" ] && echo "#   reproducer (base64): $(base64 -w0 "$a")"
		done
		cat "$work/log" >>"$log"
		ffail=$((ffail + 1))
	fi
	rm -rf "$work"
done
echo "fuzz tests: $fpass passed, $ffail failed, $fskip skipped"

# Integration tests (bats, TAP).
tap=$("$src/tests/run-integration" "$build" 2>&1 | tee -a "$log" | tee /dev/stderr)
ipass=$(grep -cE '^ok [0-9]+' <<<"$tap" | tr -d ' ')
iskip=$(grep -cE '^ok [0-9]+ .*# skip' <<<"$tap" | tr -d ' ')
ifail=$(grep -cE '^not ok [0-9]+' <<<"$tap" | tr -d ' ')
ipass=$((ipass - iskip))
echo "integration tests: $ipass passed, $ifail failed, $iskip skipped"
failures+=$'\n'$(grep -E '^not ok [0-9]+' <<<"$tap" | sed 's/^/integration: /')
if [ -n "${failures//$'\n'/}" ]; then
	echo "failed:"
	grep -v '^$' <<<"$failures" | sed 's/^/  /'
fi
echo "$((lpass + upass + fpass + ipass)) passed, $((lfail + ufail + ffail + ifail)) failed, $((uskip + fskip + iskip)) skipped"
[ $((lfail + ufail + ffail + ifail)) -eq 0 ]
