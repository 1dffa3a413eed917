#!/usr/bin/env bats
# The CLI as a new user meets it: each verb's help lists its own options,
# help/completion/man agree with the command table, did-you-mean, -f -,
# --dry-run, none/max values, one exit code per kind of mistake, messages in
# the user's words.

load helpers

setup_file() {
	start_daemon
}

teardown_file() {
	stop_daemon
}

teardown() {
	trellis -q slice delete t12a >/dev/null 2>&1 || true
	trellis -q slice delete t12p >/dev/null 2>&1 || true
}

pair() {
	cat >"$T_DIR/t12a.yaml" <<EOS
slice: t12a
description: a pair for 012
routers:
  r1: {template: plain}
  r2: {template: plain}
links:
  - endpoints: [r1:eth1, r2:eth1]
    ipv4: [10.112.0.1/24, 10.112.0.2/24]
EOS
	echo "$T_DIR/t12a.yaml"
}

# trellis(8)'s SYNOPSIS, one command a line, roff taken off
man_synopsis() {
	awk '/^\.SH SYNOPSIS/{f=1; next} /^\.SH/{f=0} f' "$TRELLIS_SRC/man/trellis.8" |
		sed -e 's/^\.br$/@@/' -e 's/^\.[A-Z]* *//' -e 's/\\-/-/g' -e 's/"//g' | tr '\n' ' ' | sed 's/@@/\n/g'
}

# complete "trellis WORD..." with the generated script; prints the candidates
complete_words() {
	shift # "trellis": the binary under test
	bash -c 'source <("$0" completion bash)
		COMP_WORDS=("$0" "$@"); COMP_CWORD=$#; _trellis; printf "%s\n" "${COMPREPLY[@]}"' \
		"$TRELLIS_BIN" "$@"
}

@test "trellis alone names every object; help at every level; a verb's help lists only its options" {
	run "$TRELLIS_BIN"
	[ "$status" -eq 2 ]
	[[ "$output" == *"missing object (slice, link, node, router, version, events, help or completion)"* ]]
	run "$TRELLIS_BIN" help
	[ "$status" -eq 0 ]
	[[ "$output" == *"link     A slice's links"* ]]
	run "$TRELLIS_BIN" help link
	[ "$status" -eq 0 ]
	[[ "$output" == *"link down SLICE LINK"* ]]
	run "$TRELLIS_BIN" help slice create
	[ "$status" -eq 0 ]
	opts=$(echo "$output" | sed -n '/^Options:/,/^$/p')
	[[ "$opts" == *"--dry-run"* ]]
	[[ "$opts" != *"--cluster"* ]]
	[[ "$opts" != *"--node"* ]]
	[[ "$opts" != *"--rate"* ]]
	[ "$(echo "$opts" | wc -l)" -le 9 ]
	run "$TRELLIS_BIN" help sliec
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown object 'sliec' (did you mean 'slice'?)"* ]]
	# a global option after the verb: where it goes, not just "unknown"
	run trellis slice list --node n1=/x.sock
	[ "$status" -eq 2 ]
	[[ "$output" == *"option '--node' goes before the object"* ]]
}

@test "did you mean, for objects, commands and options" {
	run "$TRELLIS_BIN" slise list
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown object 'slise' (did you mean 'slice'?)"* ]]
	run "$TRELLIS_BIN" slice lsit
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown command 'slice lsit' (did you mean 'list'?)"* ]]
	run trellis link set t12a r1:eth1 --lsos 1%
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown option '--lsos' (did you mean '--loss'?)"* ]]
	run "$TRELLIS_BIN" --jsno slice list
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown option '--jsno' (did you mean '--json'?)"* ]]
	# nothing close: no guess
	run "$TRELLIS_BIN" frobnicate
	[ "$status" -eq 2 ]
	[[ "$output" != *"did you mean"* ]]
}

@test "help, completion and trellis(8)'s SYNOPSIS agree with the command table" {
	run "$TRELLIS_BIN" completion table
	[ "$status" -eq 0 ]
	table=$(echo "$output" | tr '\t' ';')
	[ "$(echo "$table" | wc -l)" -ge 17 ]
	synopsis=$(man_synopsis)
	while IFS=';' read -r key operands options; do
		echo "# $key"
		# the verb's --help: exactly the table's options, in its Options section
		help=$("$TRELLIS_BIN" $key --help)
		got=$(echo "$help" | sed -n '/^Options:/,/^$/p' | grep -oE -- '--[a-z-]+' | sort | tr '\n' ' ')
		want=$(echo "$options" | tr ' ' '\n' | grep -- '^--' | sort | tr '\n' ' ')
		[ "$got" = "$want" ] || { echo "help of '$key': '$got' != '$want'"; false; }
		# completion offers the same
		first=$(echo "$operands" | cut -d' ' -f1)
		got=$(complete_words trellis $key -- | sort | tr '\n' ' ')
		[ "$got" = "$want" ] || { echo "completion of '$key': '$got' != '$want'"; false; }
		# the man page's SYNOPSIS has the command and each of its own options
		line=$(echo "$synopsis" | grep -E "(^| )${key}( |$)|${key%% *} [a-z]+ \| ${key}( |$)" | head -1)
		[ -n "$line" ] || { echo "trellis(8) SYNOPSIS has no '$key'"; false; }
		for o in $want; do
			case $o in --json | --quiet | --socket | --help) continue ;; esac
			short=$(echo "$options" | grep -oE -- "$o -[a-z]( |$)" | cut -d' ' -f2 || true)
			[[ "$line" == *"$o"* ]] || { [ -n "$short" ] && [[ "$line" == *"$short "* ]]; } ||
				{ echo "trellis(8) SYNOPSIS of '$key' lacks $o"; false; }
		done
		: "$first"
	done <<<"$table"
	# and every command of the SYNOPSIS is in the table
	echo "$synopsis" | grep -oE '(slice|link|node|router) [a-z]+' | sort -u | while read -r o v; do
		echo "$table" | cut -d';' -f1 | grep -qx "$o $v" || { echo "SYNOPSIS has '$o $v', the table has not"; false; }
	done
}

@test "completion: objects, verbs and live slice, router and link names" {
	trellis -q slice create -f "$(pair)"
	export TRELLIS_SOCKET=$T_SOCK
	[ "$(complete_words trellis "" | tr '\n' ' ')" = "slice link node router version events help completion " ]
	[ "$(complete_words trellis router "" | tr '\n' ' ')" = "stop start restart " ]
	[ "$(complete_words trellis router restart t12a "" | tr '\n' ' ')" = "r1 r2 " ]
	[ "$(complete_words trellis link "" | tr '\n' ' ')" = "set down up capture " ]
	complete_words trellis slice show "" | grep -qx t12a
	[ "$(complete_words trellis slice exec t12a "" | tr '\n' ' ')" = "r1 r2 " ]
	[ "$(complete_words trellis slice set t12a --router "" | tr '\n' ' ')" = "r1 r2 " ]
	[ "$(complete_words trellis link down t12a "" | tr '\n' ' ')" = "r1:eth1-r2:eth1 " ]
	[ "$(complete_words trellis slice key "" | tr '\n' ' ')" = "add list remove " ]
	# --socket before the object is what the names come from
	unset TRELLIS_SOCKET
	complete_words trellis --socket "$T_SOCK" slice delete "" | grep -qx t12a
	[ -z "$(complete_words trellis --socket "$T_DIR/none.sock" slice delete "")" ]
}

@test "-f - reads the spec from stdin; --dry-run validates and plans, builds nothing" {
	spec=$(pair)
	run trellis slice create --dry-run -f - <"$spec"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Slice 't12a' is valid and fits on this node; nothing was built (--dry-run)."* ]]
	[[ "$output" == *"r1:eth1-r2:eth1  local"* ]]
	[ "$(trellis --json slice list | jq '.slices | length')" -eq 0 ]
	[ -z "$(ip -o link show | grep ' t12a\.' || true)" ]
	# the JSON plan
	out=$(trellis --json slice create --dry-run -f "$spec" 2>/dev/null)
	[ "$(echo "$out" | jq -r '[.routers[].name] | join(" ")')" = "r1 r2" ]
	[ "$(echo "$out" | jq -r '.routers[0].node')" = "$T_NODE" ]
	[ "$(echo "$out" | jq -r '.dry_run')" = true ]
	# a dry run refuses what the create would refuse, with the same status
	sed 's/10.112.0.2/300.1.1.1/' "$spec" >"$T_DIR/bad.yaml"
	run trellis slice create --dry-run -f "$T_DIR/bad.yaml"
	[ "$status" -eq 3 ]
	# for real, from stdin; then a dry run of the same name: exists
	trellis -q slice create -f - <"$spec"
	run trellis slice create --dry-run -f "$spec"
	[ "$status" -eq 5 ]
	[[ "$output" == *"already exists"* ]]
	# --dry-run is create's alone
	run trellis slice delete t12a --dry-run
	[ "$status" -eq 2 ]
}

@test "slice show has the description; has no router lists the routers; messages in the user's words" {
	trellis -q slice create -f "$(pair)"
	run trellis slice show t12a
	[ "$status" -eq 0 ]
	echo "$output" | grep -qE '^Description: +a pair for 012$'
	run trellis slice exec t12a r9 -- true
	[ "$status" -eq 4 ]
	[[ "$output" == *"slice 't12a' has no router 'r9' (its routers: r1, r2)"* ]]
	run trellis slice set t12a --router r9 --pids 100
	[ "$status" -eq 4 ]
	[[ "$output" == *"(its routers: r1, r2)"* ]]
	run trellis slice show 'Bad!'
	[ "$status" -eq 3 ]
	[[ "$output" == *"trellis: slice name: 'Bad!' is not a valid name"* ]]
	[[ "$output" != *"slice.show"* ]]
	[[ "$output" != *"field '"* ]]
}

@test "link set --loss none, values in the options' words; a bad value is status 3 like the daemon's" {
	trellis -q slice create -f "$(pair)"
	run trellis link set t12a r1:eth1 --loss 5%
	[ "$status" -eq 0 ]
	[[ "$output" == *"Changed:  loss"* ]]
	[[ "$output" != *"loss_ppm"* ]]
	[ "$(trellis --json slice show t12a | jq '.links[0].shape.loss_ppm')" -eq 50000 ]
	run trellis link set t12a r1:eth1 --loss none
	[ "$status" -eq 0 ]
	[[ "$output" == *"loss none, delay none, jitter none"* ]]
	[ "$(trellis --json slice show t12a | jq '.links[0].shape.loss_ppm // 0')" -eq 0 ]
	# up when up: nothing changed; down: the state did
	run trellis link up t12a r1:eth1
	[ "$status" -eq 0 ]
	[[ "$output" == *"Changed:  nothing"* ]]
	run trellis link down t12a r1:eth1
	[[ "$output" == *"Changed:  state"* ]]
	run trellis link set t12a r1:eth1 --rate fast
	[ "$status" -eq 3 ]
	run trellis slice set t12a --cpu abc
	[ "$status" -eq 3 ]
}

@test "--pids max removes a pids limit" {
	trellis -q slice create -f "$(pair)"
	trellis -q slice set t12a --pids 200
	[ "$(trellis --json slice show t12a | jq '.limits.pids')" -eq 200 ]
	run trellis slice set t12a --pids max
	[ "$status" -eq 0 ]
	[[ "$output" == *"pids 200 -> none"* ]]
	[ "$(trellis --json slice show t12a | jq '.limits.pids // 0')" -eq 0 ]
	run trellis slice set t12a --router r1 --pids 64
	[ "$status" -eq 0 ]
	run trellis slice set t12a --router r1 --pids max
	[ "$status" -eq 0 ]
	run trellis slice set t12a --pids lots
	[ "$status" -eq 3 ]
	[[ "$output" == *"(or max: no limit)"* ]]
}

@test "trellis(8) EXAMPLES: the first example's commands print what the page shows" {
	# the page's example, rendered, its output lines (not "$ ..." nor "...")
	page=$(MANWIDTH=200 man -l "$TRELLIS_SRC/man/trellis.8" 2>/dev/null | col -bx |
		sed -n '/^EXAMPLES/,/^ *Use another daemon/p' | sed 's/^       //')
	[ -n "$page" ]
	spec=$(example_as ospf-pair.yaml t12p)
	run trellis slice create -f "$spec"
	echo "$output"
	[ "$status" -eq 0 ]
	created=$output
	n=0
	while IFS= read -r line; do
		case $line in '$ '* | *'...' | '' | EXAMPLES | 'Build the example'* | 'Use another daemon'*) continue ;; esac
		want=${line//\'pair\'/\'t12p\'}
		want=${want/Name:         pair/Name:         t12p}
		if [[ $want == "slice 't12p' deleted" ]]; then
			out=$(trellis slice delete t12p 2>/dev/null)
			[ "$out" = "$want" ] || { echo "page: '$want', trellis: '$out'"; false; }
		else
			grep -qxF -- "$want" <<<"$created" || { echo "page: '$want' is not in what create printed"; false; }
		fi
		n=$((n + 1))
	done <<<"$page"
	[ "$n" -ge 5 ]
	# the address the example pings: r2's loopback, learned over OSPF
	[[ "$page" == *"ping -c 3 10.255.0.2"* ]]
	grep -q 'loopback: \[10.255.0.2/32\]' "$TRELLIS_SRC/examples/ospf-pair.yaml"
}
