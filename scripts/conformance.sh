#!/bin/sh
# Regenerates the goldens of testdata/conformance/*/ (config.json, history.txt,
# layers.txt) with a real BuildKit: buildkitd and buildctl of the Go module
# github.com/moby/buildkit at $BUILDKIT_VERSION (their Dockerfile frontend is the built-in
# dockerfile.v0 of the same module), a local registry on 127.0.0.1 serving the busybox base
# as docker.io's mirror, and one `buildctl build` per case. hush is used only to put the
# base image (scripts/busybox-rootfs.sh, `hush import`) into that registry; the goldens are
# BuildKit's output, read by scripts/conformance-golden. `make conformance` runs it; see
# testdata/conformance/README.md.
#
# Needs root, runc, docker-registry (Debian's) and Go; it builds what it needs into $WORK.
set -eu
BUILDKIT_VERSION=${BUILDKIT_VERSION:-v0.34.2}
PORT=${CONFORMANCE_PORT:-5917}
# A case with an http/ dir has it served here (its Dockerfile names this address; the
# corpus test serves the same dir there).
HTTP_PORT=5919
root=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-$(mktemp -d /tmp/hush-conformance.XXXXXX)}
mkdir -p "$WORK/bin"
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do while kill -0 "$p" 2>/dev/null; do sleep 0.2; done; done
	umount -R "$WORK/buildkit" 2>/dev/null || true
}
trap cleanup EXIT

echo "building buildkitd and buildctl $BUILDKIT_VERSION, hush" >&2
for c in buildkitd buildctl; do
	[ -x "$WORK/bin/$c" ] || CGO_ENABLED=0 GOBIN="$WORK/bin" go install "github.com/moby/buildkit/cmd/$c@$BUILDKIT_VERSION"
done
(cd "$root" && go build -o "$WORK/bin/hush" ./cmd/hush && go build -o "$WORK/bin/conformance-golden" ./scripts/conformance-golden)

cat > "$WORK/registry.yml" <<EOC
version: 0.1
storage:
  filesystem:
    rootdirectory: $WORK/registry
http:
  addr: 127.0.0.1:$PORT
EOC
cat > "$WORK/buildkitd.toml" <<EOC
[worker.oci]
  enabled = true
  snapshotter = "overlayfs"
[worker.containerd]
  enabled = false
[registry."docker.io"]
  mirrors = ["127.0.0.1:$PORT"]
[registry."127.0.0.1:$PORT"]
  http = true
EOC
docker-registry serve "$WORK/registry.yml" > "$WORK/registry.log" 2>&1 &
pids="$pids $!"
sock="$WORK/buildkitd.sock"
"$WORK/bin/buildkitd" --config "$WORK/buildkitd.toml" --root "$WORK/buildkit" --addr "unix://$sock" \
	--oci-worker-net host > "$WORK/buildkitd.log" 2>&1 &
pids="$pids $!"
i=0
while [ ! -S "$sock" ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat "$WORK/buildkitd.log" >&2; exit 1; }
	sleep 0.2
done

export HUSH_ROOT="$WORK/hush"
"$root/scripts/busybox-rootfs.sh" "$WORK/busybox-rootfs.tar"
"$WORK/bin/hush" import "$WORK/busybox-rootfs.tar" busybox:latest > /dev/null
"$WORK/bin/hush" push --insecure-registry busybox:latest "127.0.0.1:$PORT/library/busybox:latest" > /dev/null
"$WORK/bin/hush" inspect busybox:latest > "$WORK/base.json"

for dir in "$root"/testdata/conformance/*/; do
	name=$(basename "$dir")
	[ -z "${CASES:-}" ] || case " $CASES " in *" $name "*) ;; *) continue ;; esac
	ctx="$WORK/ctx/$name"
	"$root/scripts/conformance-context.sh" "$dir" "$ctx"
	set --
	if [ -f "$dir/flags" ]; then
		while IFS= read -r f; do
			case $f in
			'' | '#'*) ;;
			--build-arg=*) set -- "$@" --opt "build-arg:${f#--build-arg=}" ;;
			--target=*) set -- "$@" --opt "target=${f#--target=}" ;;
			*) echo "$dir/flags: $f: only --build-arg=K=V and --target=T are known" >&2; exit 1 ;;
			esac
		done < "$dir/flags"
	fi
	http=""
	if [ -d "$dir/http" ]; then
		python3 -m http.server --bind 127.0.0.1 "$HTTP_PORT" --directory "$dir/http" > "$WORK/$name.http.log" 2>&1 &
		http=$!
		pids="$pids $http"
		i=0
		until python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$HTTP_PORT" 2>/dev/null; do
			i=$((i + 1))
			[ $i -lt 50 ] || { echo "the HTTP server of $name did not start" >&2; exit 1; }
			sleep 0.2
		done
	fi
	echo "== $name" >&2
	"$WORK/bin/buildctl" --addr "unix://$sock" build --progress plain --frontend dockerfile.v0 \
		--local "context=$ctx" --local "dockerfile=$dir" "$@" \
		--output "type=oci,dest=$WORK/$name.tar" > "$WORK/$name.log" 2>&1 ||
		{ cat "$WORK/$name.log" >&2; exit 1; }
	"$WORK/bin/conformance-golden" -base "$WORK/base.json" "$WORK/$name.tar" "$dir"
	if [ -n "$http" ]; then kill "$http"; wait "$http" 2>/dev/null || true; fi
done
echo "goldens written; BuildKit $BUILDKIT_VERSION; logs in $WORK" >&2
