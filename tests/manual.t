#!/usr/bin/env bash
# manual.t: the man pages are clean for mandoc -Tlint and list the same flags as --help (the responder's and seed-db's), whatever those are.
source "$(dirname "$0")/lib/common.sh"

command -v mandoc >/dev/null || bail_out "mandoc is missing: scripts/install-deps test"

# option_column: the first column of the option list of a --help text (the
# lines under "Options:", or any indented line starting with a dash in a
# text without that heading, as seed-db's).
option_column() {
	awk '/^[A-Za-z].*:$/ { heading = $0 } /^$/ { heading = "" }
		(heading == "" || heading == "Options:") && /^ +-/ { sub(/^ +/, ""); split($0, column, /  /); print column[1] }'
}
# help_flags COMMAND...: the flags of the option list of COMMAND --help,
# one a line: "  -w, --workers N   text" gives -w and --workers; only the
# first column counts, never a flag named in a description.
help_flags() {
	"$@" --help | option_column |
		grep -oE '(^|[ ,])--?[A-Za-z][A-Za-z0-9-]*' | tr -d ' ,' | sort -u
}
# help_options COMMAND...: one flag per option of --help, the short one
# if it has one: what a synopsis lists.
help_options() {
	"$@" --help | option_column |
		grep -oE '^--?[A-Za-z][A-Za-z0-9-]*' | sort -u
}
# page_flags PAGE MACRO: the flags of the page's .It (the option list) or
# .Op (the synopsis) lines: "Fl l" is -l, "Fl \-listen" is --listen.
page_flags() {
	grep -E "^\\.$2 .*Fl " "$1" | grep -oE 'Fl (\\?-)?[A-Za-z][A-Za-z0-9-]*' |
		sed -E 's/^Fl \\?-/--/; s/^Fl /-/' | sort -u
}

# compare WHAT HELP-FLAGS PAGE-FLAGS
compare() {
	local what=$1 help=$2 page=$3
	is "$(comm -23 <(echo "$help") <(echo "$page"))" "" "$what: every flag of --help ($(echo $help)) is in it"
	is "$(comm -13 <(echo "$help") <(echo "$page"))" "" "$what: every flag in it is in --help"
}

for page in "$ROOT/src/webapi-fcgi.8" "$ROOT/scripts/seed-db.8"; do
	# Every remark about the page itself counts, except that a page it
	# refers to is not installed (each page names the other; lighttpd's
	# may be missing): that depends on the machine, as do mandoc's remarks
	# about the system's man database.
	lint=$(mandoc -Tlint "$page" 2>&1 | grep -E '^mandoc: [^ ]+:[0-9]+:[0-9]+: ' |
		grep -v 'STYLE: referenced manual not found: Xr ')
	is "$lint" "" "mandoc -Tlint ${page#"$ROOT/"}: clean"
done

help=$(help_flags "$RESPONDER")
check "webapi-fcgi --help lists flags ($(echo $help))" test -n "$help"
compare "webapi-fcgi(8), options" "$help" "$(page_flags "$ROOT/src/webapi-fcgi.8" It)"
compare "webapi-fcgi(8), synopsis" "$(help_options "$RESPONDER")" "$(page_flags "$ROOT/src/webapi-fcgi.8" Op)"

help=$(help_flags "$ROOT/scripts/seed-db")
check "seed-db --help lists flags ($(echo $help))" test -n "$help"
compare "webapi-fcgi-seed-db(8), options" "$help" "$(page_flags "$ROOT/scripts/seed-db.8" It)"

done_testing
