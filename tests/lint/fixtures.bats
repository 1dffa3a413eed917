# Fixtures for tests/lint-bats --self-test (never run by bats).  Each test
# says what the lint must report in it: "# expect: RULE..." or "# expect: clean".

@test "planted: ! false mid-test" {
	# expect: bang
	! false
	true
}

@test "planted: ! cmd as the last line" {
	# expect: bang
	true
	! grep -q x /etc/hostname
}

@test "planted: ! in a loop" {
	# expect: bang
	for i in 1 2; do
		! ip link show "x$i" | grep -q y
	done
	true
}

@test "planted: ! in a one-line loop" {
	# expect: bang
	for i in 1 2 3; do ! ip -n "n$i" -o link show | grep -q "s\."; done
	true
}

@test "planted: && ! and { ! ; }" {
	# expect: bang bang
	true && ! false
	{ ! false; }
	true
}

@test "planted: || true as the only check" {
	# expect: no-check or-swallow
	grep -q foo /etc/hostname || true
}

@test "planted: || echo on a check" {
	# expect: or-swallow
	[ "$(cat /etc/hostname)" = x ] || echo "not x"
	[ 1 -eq 1 ]
}

@test "planted: run and nothing reads it" {
	# expect: unchecked-run
	run false
	run true
	[ "$status" -eq 0 ]
}

@test "planted: run piped" {
	# expect: run-pipe unchecked-run
	run cat /etc/hostname | grep -q .
}

@test "planted: local x=\$(cmd)" {
	# expect: masked-subst
	local x=$(false)
	[ -z "$x" ]
}

@test "planted: a variable nothing sets" {
	# expect: unset-var
	[ -z "$never_set_anywhere" ]
}

@test "planted: only echo and sleep" {
	# expect: no-check
	echo hello
	sleep 0
}

@test "clean: the rewrites the lint asks for" {
	# expect: clean
	run ! false
	run false
	[ "$status" -ne 0 ]
	refute_output_of "master" ip -d link show lo
	if ! true; then
		echo never
	fi
	while ! true; do sleep 1; done
	x=$(echo y)
	[ "$x" = y ]
	[[ ! -e /nonexistent ]]
	cmd=(sh -c '! grep -q x /dev/null')
	"${cmd[@]}"
	sh -c 'true && ! false'
	out=$(
		! false
	)
	cat <<EOS
! not a command: a here-document line
EOS
	[ ! -e /nonexistent ] || { echo "# exists" >&3; false; }
	for v in a b; do [ -n "$v" ]; done
}

@test "clean: ! allowed with a reason" {
	# expect: clean
	! false # lint-bats: allow bang -- demonstrates the opt-out
	[ 1 = 1 ]
}

f() {
	# expect: clean (a function's last command is its status)
	! grep -q x /dev/null
}

g() {
	# expect: bang
	! grep -q x /dev/null
	true
}
