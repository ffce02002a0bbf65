#!/bin/sh
# wheelhouse.sh - download the pinned MLflow and its dependencies as wheels for the
# MLflow image (Debian bookworm: CPython 3.11, glibc 2.36, x86_64) into DIR
# (default: deploy/mlflow/wheelhouse beside this script). The image installs from
# them with --no-index, so building it needs no index and no certificates.
# pip expands no manylinux tag for an explicit --platform, hence the list.
# The version comes from the Dockerfile's ARG MLFLOW_VERSION.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$here/wheelhouse}
version=$(sed -n 's/^ARG MLFLOW_VERSION=//p' "$here/Dockerfile")
[ -n "$version" ] || { echo "wheelhouse.sh: no ARG MLFLOW_VERSION in $here/Dockerfile" >&2; exit 1; }
mkdir -p "$dir"
set --
for v in 5 12 17 24 27 28 31 34 35 36; do set -- "$@" --platform "manylinux_2_${v}_x86_64"; done
python3 -m pip download -q --dest "$dir" --only-binary=:all: \
	--implementation cp --python-version 3.11 --abi cp311 --abi abi3 --abi none \
	"$@" --platform manylinux1_x86_64 --platform manylinux2010_x86_64 \
	--platform manylinux2014_x86_64 "mlflow==$version"
echo "$version" > "$dir/VERSION"
