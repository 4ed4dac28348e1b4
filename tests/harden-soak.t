#!/usr/bin/env bash
# harden-soak.t: SOAK_REQUESTS (1,000,000) mixed GET / and /orders on the embedded store: all 200, and each worker's RSS after is within 1% of before.
source "$(dirname "$0")/lib/common.sh"

REQUESTS=${SOAK_REQUESTS:-1000000}
WARMUP=20000
DB=$(seeded_database)
stack_up DATABASE_URL="sqlite://$DB" WORKERS=2

# A wrk script that alternates / and /orders and stops each thread after
# its share of answers, counting those that are not 200. wrk itself only
# knows durations: the thread that finishes last interrupts it (SIGINT,
# through LuaJIT's ffi), as Ctrl-C would.
cat >"$TEST_TMP/soak.lua" <<'LUA'
local ffi = require("ffi")
ffi.cdef [[ int kill(int pid, int sig); int getpid(void); ]]
local threads = {}
local paths = { "/", "/orders" }

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	limit, thread_count, finished_file = tonumber(args[1]), tonumber(args[2]), args[3]
	sent, answers, not_ok, finished = 0, 0, 0, false
end

function request()
	sent = sent + 1
	return wrk.format("GET", paths[sent % 2 + 1])
end

function response(status, headers, body)
	answers = answers + 1
	if status ~= 200 then
		not_ok = not_ok + 1
	end
	if answers >= limit and not finished then
		finished = true
		wrk.thread:stop()
		local file = io.open(finished_file, "a")
		file:write("done\n")
		file:close()
		local lines = 0
		for _ in io.lines(finished_file) do
			lines = lines + 1
		end
		if lines == thread_count then
			ffi.C.kill(ffi.C.getpid(), 2)
		end
	end
end

function done(summary, latency, requests)
	local answers, not_ok = 0, 0
	for _, thread in ipairs(threads) do
		answers = answers + thread:get("answers")
		not_ok = not_ok + thread:get("not_ok")
	end
	io.write(string.format("soak: %d answers, %d not 200\n", answers, not_ok))
end
LUA
# run COUNT: COUNT requests over 2 threads and 20 connections (at most 30 min).
run() {
	rm -f "$TEST_TMP/finished"
	wrk -t2 -c20 -d1800s --timeout 10s -s "$TEST_TMP/soak.lua" "$BASE_URL" -- $(($1 / 2)) 2 "$TEST_TMP/finished" \
		>"$TEST_TMP/wrk.out" 2>&1
	grep -E '^soak:|requests in|Socket errors' "$TEST_TMP/wrk.out" | sed 's/^ *//' | tr '\n' ';'
}
rss() { # PID: VmRSS in kB
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

workers=$(worker_pids | sort | tr '\n' ' ')
diag "warm-up: $(run "$WARMUP")"
declare -A before
for pid in $workers; do before[$pid]=$(rss "$pid"); done
supervisor=$(ps -o ppid= -p "${workers%% *}" | tr -d ' ')
supervisor_before=$(rss "$supervisor")

summary=$(run "$REQUESTS")
diag "soak: $summary"
answers=$(grep -oE '^soak: [0-9]+' "$TEST_TMP/wrk.out" | cut -d' ' -f2)
check "$REQUESTS requests answered (${answers:-0})" test "${answers:-0}" -ge "$REQUESTS"
like "$summary" 'soak: [0-9]+ answers, 0 not 200' "every one of them 200"
check "no socket error" bash -c "! grep -q 'Socket errors' '$TEST_TMP/wrk.out'"
is "$(worker_pids | sort | tr '\n' ' ')" "$workers" "the same workers throughout (none crashed or was replaced)"
for pid in $workers; do
	after=$(rss "$pid")
	change=$(awk -v b="${before[$pid]}" -v a="$after" 'BEGIN { printf "%+.2f", (a - b) * 100 / b }')
	check "worker $pid: RSS ${before[$pid]} kB before, $after kB after ($change%), within 1%" \
		awk -v b="${before[$pid]}" -v a="$after" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d * 100 <= b) }'
done
diag "supervisor $supervisor: RSS $supervisor_before kB before, $(rss "$supervisor") kB after"

done_testing
