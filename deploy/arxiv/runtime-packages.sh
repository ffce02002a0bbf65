#!/bin/sh
# runtime-packages.sh FILE... - the Debian packages that hold the shared libraries
# the ELF FILEs load (ldd), one a line, sorted; libraries under /out (libarxiv
# itself) are left out. Run in the build stage of deploy/arxiv/Dockerfile, so the
# runtime stage installs exactly what the programs link, whatever the Makefile adds.
# (Libraries loaded with dlopen, such as libpq, are not seen: list them by hand.)
# Exit 1 when a library belongs to no package.
set -eu
libs=$(for f in "$@"; do LD_LIBRARY_PATH=/out/usr/local/lib ldd "$f"; done |
	awk '$2 == "=>" && $3 ~ /^\// && $3 !~ /^\/out\// { print $3 }' | sort -u)
pkgs=''
for lib in $libs; do
	found=''
	# the path ldd shows, the file it points to (alternatives), the other side of /usr
	for p in "$lib" "$(readlink -f "$lib")" "${lib#/usr}" "/usr$lib"; do
		if pkg=$(dpkg-query -S "$p" 2>/dev/null); then
			found=${pkg%%:*}
			break
		fi
	done
	[ -n "$found" ] || { echo "runtime-packages.sh: no package holds $lib" >&2; exit 1; }
	pkgs="$pkgs $found"
done
# shellcheck disable=SC2086  # one word per package
printf "%s\n" $pkgs | sort -u
