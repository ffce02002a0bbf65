#!/bin/sh
# apt-mirror.sh - print the Debian mirror this machine's apt uses (first "deb" source
# carrying the bookworm suite), read at run time from /etc/apt/sources.list and
# /etc/apt/sources.list.d/*.sources / *.list. With --security, the security mirror.
# Prints nothing and exits 1 when no source is configured.
# APT_ETC: the apt configuration directory (default /etc/apt; for tests).
set -eu
etc=${APT_ETC:-/etc/apt}
want=bookworm
[ "${1:-}" = --security ] && want=bookworm-security
{
	for f in "$etc/sources.list" "$etc"/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		awk -v s="$want" '$1 == "deb" { sub(/\[[^]]*\]/, ""); $0 = $0; if ($3 == s) print $2 }' "$f"
	done
	for f in "$etc"/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		awk -v s="$want" '
		function flush() { if (deb && uri != "" && suites ~ ("(^| )" s "( |$)")) print uri; deb = 0; uri = ""; suites = "" }
		/^[ \t]*$/ { flush(); next }
		/^#/ { next }
		tolower($1) == "types:" { deb = ($0 ~ /[: ]deb( |$)/) }
		tolower($1) == "uris:" { uri = $2 }
		tolower($1) == "suites:" { $1 = ""; suites = substr($0, 2) }
		END { flush() }' "$f"
	done
} | sed -n '1{s#/*$##;p;q}' | grep . 
