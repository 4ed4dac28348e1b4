#!/usr/bin/env bash
# fuzz.t: each libFuzzer target (path routing, query parameters, DATABASE_URL, timestamps) runs FUZZ_SECONDS from its committed corpus without a crash.
source "$(dirname "$0")/lib/common.sh"

SECONDS_EACH=${FUZZ_SECONDS:-10}
make -s -C "$ROOT" fuzzers >&2 || bail_out "cannot build the fuzzers (make fuzzers)"

for target in router query dsn timefmt; do
	work="$TEST_TMP/$target"
	mkdir -p "$work/new"
	# New inputs go to a scratch directory; the committed corpus is only
	# read. A crash leaves its input in build/fuzz/ to replay.
	timeout $((SECONDS_EACH + 120)) "$ROOT/build/fuzz/fuzz_$target" -max_total_time="$SECONDS_EACH" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$ROOT/build/fuzz/$target-" \
		"$work/new" "$ROOT/tests/fuzz/corpus/$target" >"$work/log" 2>&1
	status=$?
	runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$work/log")
	features=$(grep -oE 'ft: [0-9]+' "$work/log" | tail -n1 | cut -d' ' -f2)
	if [[ $status -eq 0 ]]; then
		ok 0 "fuzz_$target: ${runs:-?} inputs in $SECONDS_EACH s, ${features:-?} coverage features, no crash"
	else
		ok 1 "fuzz_$target: exit status $status"
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written|^ *#[0-9]+ ' "$work/log" | head -n 30 | sed 's/^/#   /'
		diag "replay with: build/fuzz/fuzz_$target build/fuzz/$target-crash-..."
	fi
done

done_testing
