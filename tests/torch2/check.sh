#!/usr/bin/env bash
# tests/torch2/check.sh - `make check-torch2`: build libarxiv's transformer
# plugin against libtorch 2.x, the one inside PyPI's torch wheel, from the same
# source that builds against Debian's libtorch 1.13, and check what it links.
#
# The wheel (about 540 MB) is downloaded once with pip and unpacked (include/
# and lib/ only) into $ARXIV_CACHE (default ~/.cache/arxiv)/torch2-VERSION.
# The PyPI wheel is built with CUDA: the plugin must keep libtorch_cuda.so and
# libc10_cuda.so in its NEEDED list. Loading it needs NVIDIA's CUDA runtime
# libraries (the nvidia-* wheels or a CUDA install), so on a machine without
# them this checks the build and the link, not a run; tests/gpu/run.sh runs it.
# Env: TORCH2_VERSION (default 2.15.0), BUILD (the main build, default build).
set -euo pipefail
cd "$(dirname "$0")/../.."
ver=${TORCH2_VERSION:-2.15.0}
cache=${ARXIV_CACHE:-$HOME/.cache/arxiv}/torch2-$ver
out=build-torch2
py=$(python3 -c 'import sys; print("%d%d" % sys.version_info[:2])')

if [ ! -f "$cache/torch/include/ATen/ATen.h" ]; then
	mkdir -p "$cache"
	if ! ls "$cache"/torch-"$ver"-*.whl > /dev/null 2>&1; then
		echo "check-torch2: downloading torch $ver (once, about 540 MB) into $cache"
		python3 -m pip download -q --no-deps --only-binary=:all: \
			--python-version "$py" --platform manylinux_2_28_x86_64 \
			"torch==$ver" -d "$cache"
	fi
	unzip -q -o "$cache"/torch-"$ver"-*.whl 'torch/include/*' 'torch/lib/*' -d "$cache"
fi
lt=$cache/torch
cat "$lt"/include/torch/headeronly/version.h "$lt"/include/torch/csrc/api/include/torch/version.h 2> /dev/null |
	grep -E '^#define TORCH_VERSION_(MAJOR|MINOR|PATCH) ' | head -3 |
	awk '{ printf "%s%s", (NR > 1 ? "." : "check-torch2: libtorch "), $3 } END { print "" }'

# The library itself does not depend on libtorch: reuse the main build's, build the plugin.
mkdir -p "$out/lib"
make --no-print-directory "${BUILD:-build}/lib/libarxiv.so.1" > /dev/null
cp -a "${BUILD:-build}"/lib/libarxiv.so* "$out/lib/"
touch "$out/lib/libarxiv.so.1"
make --no-print-directory BUILD="$out" LIBTORCH="$lt" "$out/lib/libarxiv_torch.so.1"

plugin=$out/lib/libarxiv_torch.so.1
needed=$(readelf -d "$plugin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
fail=0
for lib in libtorch.so libtorch_cpu.so libc10.so libtorch_cuda.so libc10_cuda.so; do
	if printf '%s\n' "$needed" | grep -qx "$lib"; then
		echo "ok - $plugin NEEDED $lib"
	else
		echo "not ok - $plugin does not link $lib"; fail=1
	fi
done
# Every symbol the plugin takes from libarxiv is there (the C API did not drift).
undef=$(nm -D --undefined-only "$plugin" | awk '$2 ~ /^arxiv_/ { print $2 }' | sort -u)
for s in $undef; do
	nm -D --defined-only "$out/lib/libarxiv.so.1" | awk '{ print $3 }' | grep -qx "$s" ||
		{ echo "not ok - libarxiv lacks $s"; fail=1; }
done
echo "ok - $(printf '%s\n' "$undef" | grep -c .) libarxiv symbols resolved"
# Our exported plugin table is there.
nm -D --defined-only "$plugin" | grep -q 'arxiv_torch_plugin' &&
	echo "ok - plugin entry point exported" || { echo "not ok - no plugin entry point"; fail=1; }
if ldd "$plugin" | grep -q 'not found'; then
	echo "# not loadable here (missing: $(ldd "$plugin" | awk '/not found/ { print $1 }' | tr '\n' ' '))"
	echo "# the CUDA runtime libraries come with a CUDA install or the nvidia-* wheels; tests/gpu/run.sh runs it"
fi
exit $fail
