#!/usr/bin/env bash
# spawn-fcgi.sh: starts webapi-fcgi with spawn-fcgi on a unix socket or TCP, printing the exact command first.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

usage() {
	cat <<USAGE
usage: scripts/deploy/spawn-fcgi.sh unix PATH
       scripts/deploy/spawn-fcgi.sh tcp HOST:PORT

Prints, then runs, one of:
  spawn-fcgi -s PATH -M 0660 -U USER -G GROUP -F 1 -- $root/build/webapi-fcgi --workers N
  spawn-fcgi -a HOST -p PORT -F 1 -- $root/build/webapi-fcgi --workers N

spawn-fcgi binds the socket, forks, hands it to webapi-fcgi as fd 0 and exits.
webapi-fcgi's supervisor then forks N workers and replaces any that dies, which
spawn-fcgi never does; so one process (-F 1) with --workers N is the sensible
form. spawn-fcgi points stdout and stderr at /dev/null: the responder's log is
lost unless it runs under a supervisor with spawn-fcgi -n (see README.md here).

  unix PATH       a socket of mode 0660 owned by the web server's user and
                  group (SOCKET_OWNER), so that it can connect
  tcp HOST:PORT   an empty HOST (":9000") is 127.0.0.1, as with --listen;
                  spawn-fcgi's own default would be 0.0.0.0, every interface

Environment:
  WORKERS       webapi-fcgi --workers (default: the CPUs; 1 when PROCS > 1)
  PROCS         spawn-fcgi -F, independent supervisors sharing the socket
                (default 1). -F 4 with --workers 1 is 4 supervisors and 4
                workers; -F 1 with --workers 4 serves the same with 1 supervisor
  SOCKET_OWNER  USER:GROUP of the unix socket (default www-data:www-data)
  PID_FILE      spawn-fcgi -P: the supervisors' pids, one a line (default: none)
  WEBAPI_BUILD  directory of the webapi-fcgi to run (default: build/ here)
  DATABASE_URL, FCGI_WEB_SERVER_ADDRS   passed to the responder unchanged
USAGE
}

die() {
	echo "spawn-fcgi.sh: $*" >&2
	exit 2
}

if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
	usage
	exit 0
fi
[[ $# -eq 2 ]] || {
	usage >&2
	exit 2
}
command -v spawn-fcgi >/dev/null || die "spawn-fcgi is not installed (apt-get install spawn-fcgi)"
responder="${WEBAPI_BUILD:-$root/build}/webapi-fcgi"
[[ -x "$responder" ]] || die "$responder is missing: run make first"

procs=${PROCS:-1}
if ((procs > 1)); then
	workers=${WORKERS:-1}
else
	workers=${WORKERS:-$(nproc)}
fi
command=(spawn-fcgi)
case "$1" in
unix)
	owner=${SOCKET_OWNER:-www-data:www-data}
	command+=(-s "$2" -M 0660)
	# Only root may give the socket away; others keep it as their own.
	if [[ $(id -u) -eq 0 ]]; then
		command+=(-U "${owner%%:*}" -G "${owner#*:}")
	fi
	;;
tcp)
	[[ "$2" == *:* ]] || die "tcp takes HOST:PORT, not '$2'"
	host=${2%:*}
	port=${2##*:}
	host=${host#[}
	host=${host%]}
	command+=(-a "${host:-127.0.0.1}" -p "$port")
	;;
*)
	usage >&2
	exit 2
	;;
esac
command+=(-F "$procs")
[[ -n "${PID_FILE:-}" ]] && command+=(-P "$PID_FILE")
command+=(-- "$responder" --workers "$workers")

echo "${command[*]}" >&2
exec "${command[@]}"
