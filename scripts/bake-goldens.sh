#!/bin/sh
# Writes internal/bake/testdata/print/*/want*.* with a real docker buildx: for each case
# directory, `buildx bake --print` (and --list targets, --list variables) run there with the case's args (one per line) and only
# the case's environment (its env file). buildx needs no daemon for --print:
#
#   GOBIN=/tmp/buildx go install github.com/docker/buildx/cmd/buildx@v0.38.2
#   BUILDX=/tmp/buildx/buildx scripts/bake-goldens.sh
#
# The goldens are buildx's output, never hush's: TestPrintMatchesBuildx compares hush with
# them.
set -eu
BUILDX=${BUILDX:-buildx}
root=$(cd "$(dirname "$0")/.." && pwd)
# buildx checks ssh agent sockets even for --print: the cases name this one.
sock=/tmp/hush-bake-goldens.sock
rm -f "$sock"
python3 -c 'import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1); time.sleep(120)' "$sock" &
agent=$!
trap 'kill $agent; rm -f "$sock"' EXIT
while [ ! -S "$sock" ]; do sleep 0.1; done
for dir in "$root"/internal/bake/testdata/print/*/; do
	(
		cd "$dir"
		set --
		if [ -f args ]; then
			while IFS= read -r a; do
				case $a in '' | '#'*) continue ;; esac
				set -- "$@" "$a"
			done < args
		fi
		envs=""
		[ -f env ] && envs=$(grep -v '^#' env | grep . || true)
		# shellcheck disable=SC2086
		env -i PATH="$PATH" $envs "$BUILDX" bake --print "$@" > want.json 2> /dev/null ||
			{ echo "buildx failed in $dir:" >&2; env -i PATH="$PATH" $envs "$BUILDX" bake --print "$@" >&2; exit 1; }
		# --list reads the files named with -f (targets and --set do not apply).
		files=""
		while [ $# -gt 0 ]; do
			[ "$1" = -f ] && files="$files -f $2" && shift
			shift
		done
		# shellcheck disable=SC2086
		env -i PATH="$PATH" $envs "$BUILDX" bake $files --list targets > want-list-targets.txt 2> /dev/null
		# shellcheck disable=SC2086
		env -i PATH="$PATH" $envs "$BUILDX" bake $files --list type=variables,format=json > want-list-variables.json 2> /dev/null
	)
done
