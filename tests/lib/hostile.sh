# hostile.sh: what the hostile-*.t tests share: an attack watched from outside (control requests timed throughout, the same workers before and after, no worker death in the log).
# Needs common.sh sourced first, and SUPERVISOR and LOG set (start_responder).
# shellcheck disable=SC2034 # PEER, FLOOD and HELLO are for the tests that source this

PEER="$ROOT/tests/lib/fcgi-peer"
CONTROL="$ROOT/tests/lib/fcgi-control"
FLOOD="$ROOT/tests/lib/fcgi-flood"
HELLO='{"message":"Hello, World!"}'
# What the supervisor logs when a worker dies or is replaced, and what a
# dying worker prints on its way out (glibc, libfcgi's assert).
DEATH_LINES='killed by signal|exited with status|replacing it|stack smashing|Assertion .* failed'

# watch_start ADDRESS [no-control]: notes the workers and the log's length,
# and starts fcgi-control on ADDRESS (GET / on a new connection every 0.1 s)
# unless told not to (a test whose own requests are the control).
watch_start() {
	WATCH_ADDRESS=$1
	WATCH_WORKERS=$(children | tr '\n' ' ')
	WATCH_LOG_FROM=$(wc -l <"$LOG")
	WATCH_STOP="$TEST_TMP/control-stop.$RANDOM"
	WATCH_PID=
	[[ "${2:-}" == no-control ]] && return 0
	"$CONTROL" "$WATCH_ADDRESS" "$WATCH_STOP" >"$WATCH_STOP.out" 2>"$WATCH_STOP.err" &
	WATCH_PID=$!
	on_exit "touch '$WATCH_STOP'; kill $WATCH_PID"
	sleep 0.3
}
# watch_end LABEL: stops fcgi-control and checks what it saw and the workers:
# every control answered 200 within 1 s, the same workers, no death in the log.
watch_end() {
	local label=$1 line sent answered max late deaths
	if [[ -n "$WATCH_PID" ]]; then
		sleep 0.3
		touch "$WATCH_STOP"
		wait "$WATCH_PID"
		line=$(cat "$WATCH_STOP.out")
		read -r _ _ sent _ answered _ max _ _ late <<<"$line"
		diag "$label: $line"
		while read -r line; do diag "$label: $line"; done < <(head -n 5 "$WATCH_STOP.err")
		check "$label: control requests were made meanwhile (${sent:-0})" test "${sent:-0}" -ge 3
		is "${answered:-0}/${late:-?}" "${sent:-0}/0" \
			"$label: every control GET / on another connection was answered 200 within 1 s (slowest ${max:-?} ms)"
	fi
	is "$(children | tr '\n' ' ')" "$WATCH_WORKERS" "$label: the same workers serve ($WATCH_WORKERS)"
	deaths=$(tail -n "+$((WATCH_LOG_FROM + 1))" "$LOG" | grep -cE "$DEATH_LINES")
	is "$deaths" 0 "$label: no worker died or was replaced (log lines)"
	tail -n "+$((WATCH_LOG_FROM + 1))" "$LOG" | grep -E "$DEATH_LINES" | head -n 5 |
		while read -r line; do diag "$label: log: $line"; done
	# Whatever was broken, the next group starts with a full set of workers.
	wait_for_children "$(wc -w <<<"$WATCH_WORKERS")" || true
}
# closed_at_once LABEL OUT: OUT of a fcgi-peer ending in "closed S" says it
# closed within 0.4 s (well under 0.5 s, and no 2 s linger).
closed_at_once() {
	local seconds
	seconds=$(sed -n 's/^closed in \([0-9.]*\) s$/\1/p' <<<"$2" | tail -n1)
	check "$1 (${seconds:+closed in $seconds s}${seconds:-not closed})" \
		awk -v s="${seconds:-99}" 'BEGIN { exit !(s <= 0.4) }'
}
