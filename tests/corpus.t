#!/usr/bin/env bash
# corpus.t: each libFuzzer target replays its committed corpus (tests/fuzz/corpus) once, without fuzzing: the fast check of make check.
source "$(dirname "$0")/lib/common.sh"

make -s -C "$ROOT" fuzzers >&2 || bail_out "cannot build the fuzzers (make fuzzers)"

for target in router query dsn timefmt; do
	corpus="$ROOT/tests/fuzz/corpus/$target"
	inputs=("$corpus"/*)
	# Given files instead of directories, libFuzzer runs each input once
	# and exits: a crash or a sanitizer report is a non-zero status.
	"$ROOT/build/fuzz/fuzz_$target" -runs=1 "${inputs[@]}" >"$TEST_TMP/$target.log" 2>&1
	status=$?
	ran=$(grep -c '^Running: ' "$TEST_TMP/$target.log")
	if [[ $status -eq 0 && $ran -eq ${#inputs[@]} ]]; then
		ok 0 "fuzz_$target replays its ${#inputs[@]} corpus inputs without a report"
	else
		ok 1 "fuzz_$target replays its ${#inputs[@]} corpus inputs (status $status, $ran run)"
		grep -E 'ERROR|SUMMARY|runtime error' "$TEST_TMP/$target.log" | head -n 20 | sed 's/^/#   /'
	fi
done

done_testing
