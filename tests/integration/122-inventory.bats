#!/usr/bin/env bats
# A slice whose stored spec this release's validator refuses (an older
# release accepted it) stays deletable: the delete works from the realized
# inventory, or, for a slice stored before the inventory existed, from its
# link rows and its containers' names.  Nothing is left either way.

load helpers

S=t122a

setup_file() {
	start_daemon
}

teardown_file() {
	stop_daemon
}

teardown() {
	trellis -q slice delete "$S" >/dev/null 2>&1 || true
}

db() { sqlite3 "$T_DIR/state/trellis.db" "$@"; }

# What an older release might have stored: a key this release refuses.
# slice show then answers from what was built, saying why the spec is not shown.
spoil_spec() {
	db "UPDATE slices SET spec = spec || char(10) || 'frobnicate: 1' || char(10) WHERE name = '$S'"
	run trellis slice show "$S"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Spec: slice '$S': stored spec no longer parses"* ]]
}

@test "a slice whose stored spec no longer parses is deleted from its inventory" {
	run trellis slice create -f "$(plain_pair_spec $S 122)"
	[ "$status" -eq 0 ]
	[ "$(db "SELECT COUNT(*) FROM inventory WHERE slice = '$S'")" = 1 ]
	[ "$(db "SELECT json_array_length(data, '\$.containers') FROM inventory WHERE slice = '$S'")" = 2 ]
	spoil_spec
	# show and list work from the inventory: the routers run, the link is up
	show=$(trellis --json slice show "$S")
	[ "$(echo "$show" | jq -r '[.routers[].state] | unique | join(",")')" = running ]
	[ "$(echo "$show" | jq -r '.links[0].state')" = up ]
	[[ "$(echo "$show" | jq -r '.spec_error')" == *"frobnicate"* ]]
	[ "$(trellis --json slice list | jq -r ".slices[] | select(.name == \"$S\") | .routers")" = 2 ]
	run trellis slice delete "$S"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"deleted"* ]]
	assert_no_leftovers "$S"
	[ "$(db "SELECT COUNT(*) FROM inventory WHERE slice = '$S'")" = 0 ]
}

@test "a create interrupted with a spec refused now is rolled back from its inventory at the next start" {
	run trellis slice create -f "$(plain_pair_spec $S 122)"
	[ "$status" -eq 0 ]
	# the daemon died during the create (state 'creating'), and the spec is one this release refuses
	db "UPDATE slices SET state = 'creating' WHERE name = '$S'"
	spoil_spec
	restart_daemon
	run trellis --json node show
	echo "$output" | jq -c '.reconcile'
	[ "$(echo "$output" | jq -r ".reconcile.actions[] | select(.slice == \"$S\") | .action")" = rolled-back ]
	[ "$(db "SELECT COUNT(*) FROM slices WHERE name = '$S'")" = 0 ]
	assert_no_leftovers "$S"
}

@test "a slice stored by a release before the inventory, with a spec refused now, is deleted too" {
	run trellis slice create -f "$(plain_pair_spec $S 122)"
	[ "$status" -eq 0 ]
	# as an older release stored it: no inventory row
	db "DELETE FROM inventory WHERE slice = '$S'"
	spoil_spec
	run trellis slice delete "$S"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"deleted"* ]]
	assert_no_leftovers "$S"
}

@test "a row inserted as an older release would, with nothing built, is deleted; others' refusal still looks missing" {
	db "INSERT INTO slices(name, owner, owner_uid, state, spec, filename, files, uid_index, uid_base, created, placement)
	    VALUES('$S', 'root', 0, 'ready', 'slice: $S' || char(10) || 'colour: blue' || char(10), 'old.yaml', '{}', 77, 5111808, 0, '{}')"
	run as_user nobody slice delete "$S"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"did not exist"* ]]
	[ "$(db "SELECT COUNT(*) FROM slices WHERE name = '$S'")" = 1 ]
	run trellis slice delete "$S"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"deleted"* ]]
	assert_no_leftovers "$S"
}
