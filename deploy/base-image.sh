#!/bin/sh
# base-image.sh - build a local Debian bookworm base image without a registry:
# debootstrap --variant=minbase from this machine's apt mirror, then docker import.
# The root file system is cached as a tarball (ARXIV_CACHE, default ~/.cache/arxiv)
# so later runs only import it. usage: base-image.sh [TAG]   (default arxiv-base:bookworm)
set -eu
prog=${0##*/}
tag=${1:-arxiv-base:bookworm}
here=$(cd "$(dirname "$0")" && pwd)
cache=${ARXIV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arxiv}
# the name changes with what this script puts in the root file system
tarball=$cache/bookworm-minbase-2.tar

if docker image inspect "$tag" >/dev/null 2>&1; then
	echo "$prog: $tag already present" >&2
	exit 0
fi
if [ ! -s "$tarball" ]; then
	mirror=$("$here/apt-mirror.sh") || { echo "$prog: no bookworm apt source on this machine" >&2; exit 1; }
	command -v debootstrap >/dev/null || { echo "$prog: debootstrap not installed" >&2; exit 1; }
	mkdir -p "$cache"
	root=$(mktemp -d "$cache/rootfs.XXXXXX")
	trap 'rm -rf "$root"' EXIT
	echo "$prog: debootstrap --variant=minbase bookworm (cached in $tarball)" >&2
	debootstrap --variant=minbase bookworm "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
		{ tail -20 "$cache/debootstrap.log" >&2; echo "$prog: debootstrap failed" >&2; exit 1; }
	# The same slimming as the official -slim images: apt keeps no package files
	# or caches, dpkg installs no documentation, no apt lists, docs or caches now.
	cat > "$root/etc/apt/apt.conf.d/docker-clean" <<-'CONF'
	DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
	APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
	Dir::Cache::pkgcache "";
	Dir::Cache::srcpkgcache "";
	CONF
	echo 'Acquire::Languages "none";' > "$root/etc/apt/apt.conf.d/docker-no-languages"
	echo 'Acquire::GzipIndexes "true";' > "$root/etc/apt/apt.conf.d/docker-gzip-indexes"
	printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
		'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
		'path-exclude /usr/share/locale/*' 'path-exclude /usr/share/lintian/*' \
		> "$root/etc/dpkg/dpkg.cfg.d/docker-slim"
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
		"$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
	find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
	tmp=$(mktemp "$tarball.XXXXXX")
	tar --numeric-owner -C "$root" -cf "$tmp" .
	mv "$tmp" "$tarball"
	rm -rf "$root"
	trap - EXIT
fi
docker import --change 'CMD ["/bin/bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	"$tarball" "$tag" >/dev/null
echo "$prog: imported $tag" >&2
