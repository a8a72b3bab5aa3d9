#!/bin/sh
# Copies the context of a conformance case ($1/context, or nothing) to a new dir $2 with
# the modes a checkout may not keep made fixed: directories 0755, files 0755 when any
# execute bit is set, else 0644. The corpus test (cmd/hush) does the same in Go.
set -eu
case=${1:?usage: conformance-context.sh CASE_DIR OUT_DIR}
out=${2:?usage: conformance-context.sh CASE_DIR OUT_DIR}
rm -rf "$out"
mkdir -p "$out"
[ -d "$case/context" ] || exit 0
cp -a "$case/context/." "$out/"
find "$out" -type d -exec chmod 0755 {} +
find "$out" -type f -perm /111 -exec chmod 0755 {} +
find "$out" -type f ! -perm /111 -exec chmod 0644 {} +
