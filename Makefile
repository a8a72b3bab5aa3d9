# hush — see README.md. Targets need root (overlayfs mounts, OCI runtime).
GO      ?= go
BIN     := bin/hush
PKGS    := libseccomp-dev runc crun busybox-static skopeo umoci git openssh-client openssh-server age docker-registry passt slirp4netns qemu-user-static binfmt-support
export HUSH_ROOT ?= /var/lib/hush

.PHONY: all build deps demo test bench conformance clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/hush

# Installs the Debian packages hush needs at run time and in tests.
deps:
	@missing=""; for p in $(PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; fi

# Builds hush, imports a busybox base made from Debian's busybox-static, builds the example
# Dockerfile with a secret, prints its history and audits the image for the secret.
demo: deps build
	scripts/busybox-rootfs.sh bin/busybox-rootfs.tar
	$(BIN) import bin/busybox-rootfs.tar busybox:latest
	DEMO_TOKEN=demo-token-$$(od -An -N8 -tx8 /dev/urandom | tr -d ' ') && export DEMO_TOKEN && \
	$(BIN) build --progress=plain --secret id=token,env=DEMO_TOKEN -t hush-demo:latest examples/demo && \
	$(BIN) history hush-demo:latest && \
	$(BIN) audit hush-demo:latest --secret id=token,env=DEMO_TOKEN
	$(BIN) images

# Every test; the ones that need root, runc/crun or a docker engine say why when they skip.
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

# Regenerates testdata/conformance/*/ goldens with a real BuildKit (buildkitd and buildctl
# built from the Go module; see testdata/conformance/README.md). Needs root and Go.
conformance: deps
	scripts/conformance.sh

# Builder comparison (hush vs BuildKit vs buildah), the audit and memory cases, and a table
# of issue 13's goals with met/missed; then the audit package's own benchmarks (a generated
# ≥500 MB, 8-layer image with 120 planted secrets, next to the decompress-only floor and
# gzip|grep run with the same parallelism; the secret-size series; cpu-s/op is steadier
# than wall time on a shared machine).
bench: deps build
	$(GO) run ./bench -hush $(BIN)
	$(GO) test -run '^$$' -bench . -benchtime 3x ./internal/audit

clean:
	rm -rf bin
