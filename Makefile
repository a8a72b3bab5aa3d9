# hush — see README.md. Targets need root (overlayfs mounts, OCI runtime).
GO      ?= go
BIN     := bin/hush
PKGS    := libseccomp-dev runc crun busybox-static skopeo umoci git openssh-client openssh-server age docker-registry passt slirp4netns uidmap fuse-overlayfs libcap2-bin qemu-user-static binfmt-support
# The ordinary user rootless tests and the rootless bench run hush as (created by .ci/run).
ROOTLESS_USER ?= hush-rootless
export HUSH_ROOT ?= /var/lib/hush

.PHONY: all build deps demo test test-rootless bench conformance clean

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

# The end-to-end tests once more, hush run as the ordinary user $(ROOTLESS_USER) (rootless).
test-rootless: deps
	HUSH_TEST_ROOTLESS=1 $(GO) test -count=1 -timeout 20m ./cmd/hush

# Builder comparison (hush vs BuildKit vs buildah, and rootless hush vs rootful when the
# user $(ROOTLESS_USER) exists), then the audit throughput benchmark (a generated ≥500 MB,
# 8-layer image with 120 planted secrets).
bench: deps build
	$(GO) run ./bench -hush $(BIN) -rootless-user $(ROOTLESS_USER)
	$(GO) test -run '^$$' -bench . -benchtime 3x ./internal/audit

clean:
	rm -rf bin
