#!/usr/bin/env bash
# sanitize.t: the HTTP suite, hostile input and the FastCGI record fuzzer run against the ASan+UBSan build (build/sanitize/): all pass, and no sanitizer report is written.
source "$(dirname "$0")/lib/common.sh"

BUILD_DIR="$ROOT/build/sanitize"
REPORTS="$BUILD_DIR/reports"
make -s -C "$ROOT" sanitize-build >&2 || bail_out "cannot build the sanitizer build (make sanitize-build)"
rm -f "$REPORTS"/*

# The suite as it is, only with WEBAPI_BUILD pointing at the instrumented
# responder (lighttpd starts that one too). The fuzzer runs fewer cases:
# ASan makes each slower, and what matters here is that none is reported.
for script in http modes supervise pg harden-input harden-fcgi-fuzz; do
	WEBAPI_BUILD="$BUILD_DIR" FCGI_FUZZ_CASES=1500 "$ROOT/tests/$script.t" >"$TEST_TMP/$script.out" 2>&1
	status=$?
	passed=$(grep -cE '^ok [0-9]+' "$TEST_TMP/$script.out")
	failed=$(grep -cE '^not ok [0-9]+' "$TEST_TMP/$script.out")
	if [[ $status -eq 0 && $failed -eq 0 ]]; then
		ok 0 "tests/$script.t against the sanitizer build: $passed passed"
	else
		ok 1 "tests/$script.t against the sanitizer build: $passed passed, $failed failed, exit $status"
		grep -E '^not ok|^Bail' "$TEST_TMP/$script.out" | head -n 20 | sed 's/^/#   /'
	fi
done

# Every file there is a report, except one that only says a huge malloc
# failed: libfcgi asks for one on a parameter length near 2^31 (the fuzzer
# sends those), gets NULL as it would from glibc, and aborts by itself.
reports=()
refused=0
for file in "$REPORTS"/*; do
	[[ -e "$file" ]] || continue
	if grep -vqE '^==[0-9]+==WARNING: AddressSanitizer failed to allocate 0x[0-9a-f]+ bytes$' "$file"; then
		reports+=("$file")
	else
		refused=$((refused + 1))
	fi
done
diag "$refused processes were refused a huge allocation (libfcgi's parameter lengths; each then aborted)"
is "${#reports[@]}" 0 "no ASan, LSan or UBSan report in $REPORTS"
for report in "${reports[@]}"; do
	diag "$report:"
	head -n 30 "$report" | sed 's/^/#   /'
done

done_testing
