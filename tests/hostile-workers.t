#!/usr/bin/env bash
# hostile-workers.t: what the supervisor says when a worker crashes (the request it was serving, none when idle), and a libfcgi that would bypass the responder's OS_Read/OS_Write (linked with -Bsymbolic-functions) refused at start-up.
source "$(dirname "$0")/lib/common.sh"

FAKE="$ROOT/tests/lib/fake-postgres"
DB=$(seeded_database)

# death_line PID: the supervisor's line about PID's death, up to 5 s.
death_line() {
	wait_for_log "$LOG" "worker $1 (killed by signal|exited with status)" || true
	grep -E "worker $1 (killed by signal|exited with status)" "$LOG" | head -n1
}

# An idle worker, after it served GET /orders: its crash names no request.
DATABASE_URL="sqlite://$DB" start_responder idle --workers 1
wait_for_children 1 || bail_out "no worker started"
like "$(fcgi_get "$SOCKET" /orders | head -n1)" '^Status: 200' "GET /orders answered"
# Past the supervisor's quick-death window (1 s), so the line is the usual one.
sleep 1.2
worker=$(children)
kill -SEGV "$worker"
line=$(death_line "$worker")
diag "idle worker: $line"
like "$line" "worker $worker killed by signal 11" "SIGSEGV to the idle worker $worker: the supervisor logs its death"
check "... and does not say it was serving the GET /orders it had finished" bash -c "! grep -q 'serving GET /orders' <<<'$line'"
kill -TERM "$SUPERVISOR"

# A busy worker: /orders waits on a database that accepts and never answers
# (the query deadline is 2 s); its crash names that request.
port=$(free_port) || bail_out "no free port"
"$FAKE" silent "$port" "$TEST_TMP/hung.count" &
on_exit "kill $!"
wait_for_port 127.0.0.1 "$port" || bail_out "fake-postgres did not listen"
DATABASE_URL="postgresql://apiuser:apipassword@127.0.0.1:$port/ordersdb?sslmode=disable&gssencmode=disable" \
	start_responder busy --workers 1
wait_for_children 1 || bail_out "no worker started"
wait_until 'fcgi_get "$SOCKET" / | grep -q "^Status: 200"' 5
fcgi_get "$SOCKET" '/orders?limit=7' >/dev/null &
on_exit "kill $!"
sleep 0.5
worker=$(children)
kill -SEGV "$worker"
line=$(death_line "$worker")
diag "busy worker: $line"
like "$line" "worker $worker killed by signal 11 .*GET /orders\\?limit=7" \
	"SIGSEGV to a worker whose /orders?limit=7 waits on the database: the log names that request"
kill -TERM "$SUPERVISOR"

# A libfcgi whose own calls to OS_Read and OS_Write bind inside it
# (-Bsymbolic-functions), as a distribution could build it: the responder's
# replacements would never be called, and libfcgi would read the sockets
# itself, blocking the event loop. Made from Debian's libfcgi.a (libfcgi-dev):
# its objects are not position-independent, so os_unix.o's one reference to
# glibc's stderr is renamed to a hidden copy, and fcgi_stdio.o (FCGI_printf
# and the like, unused here) is left out.
LIBDIR="$TEST_TMP/libfcgi-symbolic"
build_symbolic_libfcgi() {
	local archive=/usr/lib/x86_64-linux-gnu/libfcgi.a
	[[ -f "$archive" ]] || archive=$(gcc -print-file-name=libfcgi.a)
	[[ -f "$archive" ]] || { echo "no libfcgi.a (libfcgi-dev)"; return 1; }
	mkdir -p "$LIBDIR/objects" && cd "$LIBDIR/objects" || return 1
	ar x "$archive" || return 1
	objcopy --redefine-sym stderr=fcgi_test_stderr libfcgi_la-os_unix.o os_unix.o || return 1
	cat >shim.c <<'C'
#include <stdio.h>
__attribute__((visibility("hidden"))) FILE *fcgi_test_stderr;
__attribute__((constructor)) static void copy_stderr(void) { fcgi_test_stderr = stderr; }
C
	gcc -fPIC -c shim.c -o shim.o &&
		gcc -shared -Wl,-Bsymbolic-functions -Wl,-soname,libfcgi.so.0 -o "$LIBDIR/libfcgi.so.0" \
			libfcgi_la-fcgiapp.o os_unix.o shim.o
}
if ! built=$(build_symbolic_libfcgi 2>&1); then
	ok 1 "a libfcgi.so.0 linked with -Bsymbolic-functions from Debian's libfcgi.a could not be built: $(tail -n1 <<<"$built")"
else
	cd "$ROOT" || bail_out "cd $ROOT"
	calls=$(objdump -d "$LIBDIR/libfcgi.so.0" | grep -cE 'call.*<OS_(Read|Write)>')
	plt_calls=$(objdump -d "$LIBDIR/libfcgi.so.0" | grep -cE 'call.*<OS_(Read|Write)@plt>')
	check "the test library calls its own OS_Read/OS_Write directly ($calls calls, $plt_calls through the PLT)" \
		test "$calls" -gt 0 -a "$plt_calls" -eq 0
	loaded=$(LD_LIBRARY_PATH="$LIBDIR" ldd "$RESPONDER" | awk '$1 == "libfcgi.so.0" { print $3 }')
	is "$loaded" "$LIBDIR/libfcgi.so.0" "with LD_LIBRARY_PATH, ldd says the responder loads the test library"

	started=$(date +%s%3N)
	LD_LIBRARY_PATH="$LIBDIR" DATABASE_URL="sqlite://$DB" timeout -s KILL 10 \
		"$RESPONDER" --listen "$TEST_TMP/symbolic.sock" --workers 1 >/dev/null 2>"$TEST_TMP/symbolic.log"
	status=$?
	elapsed=$(($(date +%s%3N) - started))
	diag "with the -Bsymbolic-functions libfcgi: exit status $status after $elapsed ms: $(head -n 3 "$TEST_TMP/symbolic.log" | tr '\n' ' ')"
	check "the responder refuses to start with it: exits non-zero (status $status), not killed by the 10 s time-out" \
		test "$status" -ne 0 -a "$status" -ne 137
	check "... within 5 s ($elapsed ms)" test "$elapsed" -lt 5000
	check "... saying why, naming OS_Read or OS_Write" grep -qE 'OS_Read|OS_Write' "$TEST_TMP/symbolic.log"
fi

done_testing
