#!/usr/bin/env bash
# tests/mutate.sh: does the suite catch the bugs it claims to?  Applies small
# deliberate breakages (mutants) one at a time to a scratch copy of the tree,
# builds it, runs the tests that should catch each, and reports the ones that
# survived.  Not part of the normal run (a benchmark-like tool: minutes).
#
#   tests/mutate.sh [--list] [--workdir DIR] [--no-baseline] [--overlay DIR] [--tests SPECS] [MUTANT...]
#
# Each mutant is an exact-text edit of one source file: its anchor must occur
# exactly once, so code that moved fails loudly ("anchor not found") instead
# of silently testing nothing.  One scratch source copy and one build
# directory are reused (incremental builds, -j2); each mutant is reverted
# before the next.  Integration tests run one file at a time under the same
# per-file lock as tests/run-integration's users (/tmp/bats-FILE.lock).
# Needs root for the bats tests.  Ends with one line:
#   RESULT mutants=N caught=N
set -uo pipefail

ME=${0##*/}
SRC=$(cd "$(dirname "$0")/.." && pwd)
WORK=${TMPDIR:-/tmp}/trellis-mutate
BASELINE=1
OVERLAY=
TESTS_OVERRIDE=

# ---------------------------------------------------------------- mutants
# NAME|FILE|what it breaks|tests that must catch it (unit:PROGRAM, bats:FILE[:REGEX])
# The edit itself is mutant_edit NAME (below): exact old text -> new text.
MUTANTS=(
	"seccomp|trellisd/container.c|routers run without the seccomp profile|bats:020-slice:unprivileged, confined"
	"link-down|trellisd/slice-realize.c|'link down' leaves the host ends up|bats:090-shaping:link down/up"
	"rate|lib/spec.c|the spec parser ignores a link's rate:|unit:test-spec"
	"rollback-row|trellisd/slice-create.c|a failed create's rollback keeps the slice's state row|bats:040-rollback:cannot start"
	"rollback-cgroup|trellisd/slice-teardown.c|teardown (rollback, delete) keeps the slice's cgroup|bats:040-rollback:cannot start"
	"unknown-key|lib/spec.c|the spec parser accepts an unknown key|unit:test-spec"
	"may-delete|trellisd/slice-delete.c|slice delete skips access_check: any tenant deletes any slice|bats:085-tenants:a listed tenant creates|a tenant cannot create|another tenant's slice"
	"tunnel-dev|trellisd/slice-teardown.c|teardown forgets to delete a cross-node link's kernel tunnel device (VXLAN)|bats:070-multinode:fallback: VXLAN"
	"rate-units|lib/units.c|'mbit' is read as 1000 bit/s too few|unit:test-units"
	"unshape|trellisd/shape.c|'link set --rate none' leaves the link's HTB tree|bats:090-shaping:refused link changes"
	"http-tenant|trellisd/http.c|an HTTP token bound to a tenant acts as root|bats:130-http:a tenant's token"
	"http-deadline|trellisd/http.c|the HTTP watchdog never cuts a slow client|bats:130-http:drips its request"
)

# Print the old and the new text of mutant $1, NUL-separated.
mutant_edit() {
	case $1 in
	seccomp)
		printf '%s\0%s\0' \
			'	fprintf(f, "lxc.seccomp.profile = %s\n", cs->seccomp_path);' \
			'	(void)cs->seccomp_path; /* MUTANT: no seccomp profile */' ;;
	link-down)
		printf '%s\0%s\0' \
			'		if (node_netdev_set_up(h, up, err) < 0)' \
			'		if (up && node_netdev_set_up(h, up, err) < 0) /* MUTANT: down is a no-op */' ;;
	rate)
		printf '%s\0%s\0' \
			'	if (rv && (ret = parse_rate_field(c, rk, rv, "rate", "leave rate: out for an unshaped link", &sh->rate)) < 0)' \
			'	if (0 && rv && (ret = parse_rate_field(c, rk, rv, "rate", "leave rate: out for an unshaped link", &sh->rate)) < 0) /* MUTANT */' ;;
	rollback-row)
		printf '%s\0%s\0' \
			$'		if (inserted)\n			store_slice_remove(st, p.s->name, NULL);' \
			$'		if (inserted && 0) /* MUTANT: the row stays */\n			store_slice_remove(st, p.s->name, NULL);' ;;
	rollback-cgroup)
		printf '%s\0%s\0' \
			$'	pthread_mutex_lock(&p->d->node_lock);\n	cgroup_remove_slice(p->d->node_name, s->name);' \
			$'	pthread_mutex_lock(&p->d->node_lock);\n	(void)s; /* MUTANT: the slice cgroup stays */' ;;
	unknown-key)
		printf '%s\0%s\0' \
			$'		if (i == nf) {\n			path_key(c, key, name);' \
			$'		if (i == nf) {\n			continue; /* MUTANT: unknown keys pass */\n			path_key(c, key, name);' ;;
	may-delete)
		printf '%s\0%s\0' \
			'	if (r == 0 && (r = access_check(oc, ACCESS_DELETE, &row, err)) < 0) {' \
			'	if (r == 0 && (r = 0) < 0) { /* MUTANT: no access check on delete */' ;;
	tunnel-dev)
		# (A link's host veth is no mutant: LXC deletes the host end of the
		# pair it made when the container stops, even while something holds
		# the router's netns open; trellis's own delete is a second one.)
		printf '%s\0%s\0' \
			$'			if (pl->key)\n				node_netdev_del(dev);' \
			$'			if (pl->key)\n				(void)dev; /* MUTANT: the tunnel device stays */' ;;
	rate-units)
		printf '%s\0%s\0' \
			'	{ "mbit", 1e6 },' \
			'	{ "mbit", 0.999e6 }, /* MUTANT */' ;;
	unshape)
		printf '%s\0%s\0' \
			$'	if (!sh->rate && !sh->delay_us)\n		return shaper_tree_remove(host, err);' \
			$'	if (!sh->rate && !sh->delay_us)\n		return 0; /* MUTANT: the tree stays */' ;;
	http-tenant)
		printf '%s\0%s\0' \
			'		if (t->tenant) {' \
			'		if (0 && t->tenant) { /* MUTANT: every token is root */' ;;
	http-deadline)
		printf '%s\0%s\0' \
			'			if (!t->shut && since_s(&t->since) > H.timeout) {' \
			'			if (0 && !t->shut && since_s(&t->since) > H.timeout) { /* MUTANT: no deadline */' ;;
	*)
		return 1 ;;
	esac
}

usage() {
	cat <<EOF
Usage: tests/$ME [OPTIONS] [MUTANT...]

Apply each mutant (all by default) to a scratch copy of the tree, build,
run the tests that must catch it, revert.  Prints one line per mutant and
ends with 'RESULT mutants=N caught=N'; exits 1 if any survived (or could
not be applied or built).

Options:
  --list          list the mutants and the tests that must catch each
  --workdir DIR   scratch source copy and build dir [\$TMPDIR/trellis-mutate]
  --no-baseline   skip the first run of every selected test on the unbroken tree
  --overlay DIR   copy DIR's files over the scratch tree (e.g. an older
                  tests/integration/helpers.bash, to see what it misses)
  --tests SPECS   run these tests (unit:PROG or bats:FILE[:REGEX], ';'-separated)
                  instead of each mutant's own
  -h, --help      this help
EOF
}

# Field $2 of mutant line $1; the last field (tests) may hold '|' (regexes).
field() {
	local s=$1 i
	for ((i = 0; i < $2; i++)); do s=${s#*|}; done
	[ "$2" -ge 3 ] || s=${s%%|*}
	echo "$s"
}

while [ $# -gt 0 ]; do
	case $1 in
	--list)
		for m in "${MUTANTS[@]}"; do
			printf '%-16s %-22s %s\n%16s   caught by: %s\n' "$(field "$m" 0)" "$(field "$m" 1)" "$(field "$m" 2)" "" "$(field "$m" 3)"
		done
		exit 0 ;;
	--workdir) WORK=$2; shift ;;
	--no-baseline) BASELINE=0 ;;
	--overlay) OVERLAY=$(cd "$2" && pwd) || exit 2; shift ;;
	--tests) TESTS_OVERRIDE=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	-*) echo "$ME: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	*) break ;;
	esac
	shift
done

SELECTED=()
if [ $# -eq 0 ]; then
	SELECTED=("${MUTANTS[@]}")
else
	for want in "$@"; do
		found=
		for m in "${MUTANTS[@]}"; do [ "$(field "$m" 0)" = "$want" ] && found=$m; done
		[ -n "$found" ] || { echo "$ME: no mutant '$want' (--list)" >&2; exit 2; }
		SELECTED+=("$found")
	done
fi

note() { echo "# $*" >&2; }
LOG=$WORK/mutate.log

# ---------------------------------------------------------------- scratch tree
prepare() {
	mkdir -p "$WORK/src" "$WORK/build"
	: >"$LOG"
	# the working tree as it is (tracked and untracked files, not ignored ones);
	# mtimes kept, so the build dir stays incremental between runs
	(cd "$SRC" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) |
		tar -xf - -C "$WORK/src" || return 1
	[ -z "$OVERLAY" ] || cp -a "$OVERLAY/." "$WORK/src/" || return 1
	if [ ! -x "$WORK/src/configure" ] || [ "$WORK/src/configure.ac" -nt "$WORK/src/configure" ]; then
		(cd "$WORK/src" && ./autogen.sh) >>"$LOG" 2>&1 || { note "autogen failed (see $LOG)"; return 1; }
	fi
	if [ ! -f "$WORK/build/Makefile" ]; then
		(cd "$WORK/build" && "$WORK/src/configure" -q --enable-werror) >>"$LOG" 2>&1 ||
			{ note "configure failed (see $LOG)"; return 1; }
	fi
	build
}

build() {
	make -C "$WORK/build" -j2 -s >>"$LOG" 2>&1 && make -C "$WORK/build" -j2 -s check TESTS= >>"$LOG" 2>&1
}

# Apply (or with -r revert) mutant $1 to the scratch tree.
apply() {
	local revert=0
	[ "$1" = -r ] && { revert=1; shift; }
	local name=$1 file=$2
	mutant_edit "$name" | python3 -c '
import sys
path, revert = sys.argv[1], sys.argv[2] == "1"
old, new = sys.stdin.buffer.read().decode().split("\0")[:2]
if revert:
    old, new = new, old
with open(path, encoding="utf-8") as f:
    text = f.read()
n = text.count(old)
if n != 1:
    sys.exit("anchor found %d times in %s (expected once):\n%s" % (n, path, old))
with open(path, "w", encoding="utf-8") as f:
    f.write(text.replace(old, new))
' "$WORK/src/$file" "$revert"
}

# Run one test spec; 0 if it passed.
run_test() {
	local spec=$1 kind rest file filter
	kind=${spec%%:*}
	rest=${spec#*:}
	case $kind in
	unit)
		make -C "$WORK/build" -s check TESTS="tests/unit/$rest" >>"$LOG" 2>&1 ;;
	bats)
		file=${rest%%:*}
		filter=
		[ "$file" = "$rest" ] || filter=${rest#*:}
		flock "/tmp/bats-$file.lock" "$WORK/src/tests/run-integration" "$WORK/build" \
			${filter:+-f "$filter"} "$WORK/src/tests/integration/$file.bats" >>"$LOG" 2>&1 ;;
	*)
		note "bad test spec '$spec'"
		return 2 ;;
	esac
}

# Node cgroup subtrees on this host (every layout), one per line.
node_cgroups() {
	local d
	for d in /sys/fs/cgroup/*/trellis/* /sys/fs/cgroup/*/trellis.monitor/* /sys/fs/cgroup/trellis/* \
		/sys/fs/cgroup/trellis.monitor/*; do
		[ -d "$d" ] && echo "$d"
	done
	return 0
}

# A mutant may leak what it breaks (a cgroup that teardown kept): remove the
# node subtrees that appeared since $1 (a node_cgroups list) and whose daemon
# is gone, so the next run and other users of the host start clean.
remove_leaked_cgroups() {
	local d nodes=
	while read -r d; do
		grep -qxF "$d" <<<"$1" && continue
		pgrep -f -- "--node ${d##*/}( |$)" >/dev/null && continue
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
		[ -d "$d" ] || [[ " $nodes " == *" ${d##*/} "* ]] || nodes+=" ${d##*/}"
	done < <(node_cgroups)
	[ -z "$nodes" ] || note "removed the cgroups the mutant left of node(s)$nodes"
}

# The tests of a mutant, one per line.
tests_of() {
	if [ -n "$TESTS_OVERRIDE" ]; then echo "$TESTS_OVERRIDE"; else field "$1" 3; fi | tr ';' '\n'
}

# ---------------------------------------------------------------- main
[ "$(id -u)" -eq 0 ] || note "not root: the bats tests will skip or fail"
start=$(date +%s)
note "scratch tree and build in $WORK (log: $LOG)"
prepare || { echo "$ME: cannot prepare the scratch build (see $LOG)" >&2; echo "RESULT mutants=${#SELECTED[@]} caught=0"; exit 1; }

if [ "$BASELINE" = 1 ]; then
	declare -A seen=()
	for m in "${SELECTED[@]}"; do
		while read -r t; do
			[ -n "${seen[$t]:-}" ] && continue
			seen[$t]=1
			echo "=== baseline: $t" >>"$LOG"
			if ! run_test "$t"; then
				echo "$ME: '$t' fails on the unbroken tree: fix that first (see $LOG)" >&2
				echo "RESULT mutants=${#SELECTED[@]} caught=0"
				exit 1
			fi
		done < <(tests_of "$m")
	done
	note "baseline: every selected test passes on the unbroken tree"
fi

n=0 caught=0 survivors=()
for m in "${SELECTED[@]}"; do
	name=$(field "$m" 0) file=$(field "$m" 1) what=$(field "$m" 2)
	n=$((n + 1))
	t0=$(date +%s)
	echo "=== mutant $name: $what" >>"$LOG"
	if ! err=$(apply "$name" "$file" 2>&1); then
		printf '%-16s NOT APPLIED  %s\n' "$name" "$err"
		survivors+=("$name (not applied)")
		continue
	fi
	if ! build; then
		printf '%-16s NOT BUILT    (see %s)\n' "$name" "$LOG"
		survivors+=("$name (did not build)")
	else
		by=
		before=$(node_cgroups)
		while read -r t; do
			echo "--- $name: $t" >>"$LOG"
			if ! run_test "$t"; then by=$t; break; fi
		done < <(tests_of "$m")
		if [ -n "$by" ]; then
			caught=$((caught + 1))
			printf '%-16s caught       by %s (%ss): %s\n' "$name" "$by" "$(($(date +%s) - t0))" "$what"
		else
			printf '%-16s SURVIVED     %s (ran: %s)\n' "$name" "$what" "$(tests_of "$m" | tr '\n' ' ')"
			survivors+=("$name")
		fi
		remove_leaked_cgroups "$before"
	fi
	apply -r "$name" "$file" || { echo "$ME: cannot revert '$name'" >&2; exit 1; }
	# older than nothing: make must rebuild it for the next mutant
	touch "$WORK/src/$file"
done
build || note "the reverted tree does not build (see $LOG)"
[ ${#survivors[@]} -eq 0 ] || note "survived: ${survivors[*]}"
note "$(($(date +%s) - start)) s"
echo "RESULT mutants=$n caught=$caught"
[ "$caught" -eq "$n" ]
