# tap.sh: TAP output for shell tests (ok/not ok lines and the plan), sourced by tests/*.t.
TAP_COUNT=0
TAP_FAILED=0

# ok STATUS DESCRIPTION: a test passes when STATUS is 0.
ok() {
	local status=$1
	shift
	TAP_COUNT=$((TAP_COUNT + 1))
	if [[ "$status" -eq 0 ]]; then
		echo "ok $TAP_COUNT - $*"
	else
		echo "not ok $TAP_COUNT - $*"
		TAP_FAILED=$((TAP_FAILED + 1))
	fi
}

# check DESCRIPTION COMMAND...: passes when COMMAND succeeds.
check() {
	local description=$1
	shift
	if "$@"; then ok 0 "$description"; else ok 1 "$description"; fi
}

# is GOT EXPECTED DESCRIPTION: passes when the two strings are equal.
is() {
	if [[ "$1" == "$2" ]]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		printf '#   got:      %q\n#   expected: %q\n' "${1:0:300}" "${2:0:300}"
	fi
}

# like GOT REGEX DESCRIPTION: passes when GOT matches the extended regex.
like() {
	if [[ "$1" =~ $2 ]]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		printf '#   got: %q\n#   does not match: %s\n' "${1:0:300}" "$2"
	fi
}

# skip DESCRIPTION: a test that cannot run here, counted as passed with the reason in DESCRIPTION.
skip() {
	TAP_COUNT=$((TAP_COUNT + 1))
	echo "ok $TAP_COUNT # skip $*"
}

diag() {
	echo "# $*"
}

done_testing() {
	echo "1..$TAP_COUNT"
	[[ $TAP_FAILED -eq 0 ]]
}

bail_out() {
	echo "Bail out! $*"
	exit 255
}
