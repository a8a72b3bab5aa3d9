package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/hushtest"
)

// platformDockerfile runs each platform's own static binary (RUN in exec form, FROM
// scratch) and records the platform args BuildKit sets.
const platformDockerfile = `FROM scratch
ARG TARGETPLATFORM TARGETARCH BUILDPLATFORM
COPY archhello-${TARGETARCH} /archhello
RUN ["/archhello", "/arch.txt"]
LABEL target=$TARGETPLATFORM build=$BUILDPLATFORM
`

// foreignArch is an architecture the host runs through qemu-user (binfmt_misc).
func foreignArch() (goarch, qemu string) {
	if runtime.GOARCH == "arm64" {
		return "amd64", "x86_64"
	}
	return "arm64", "aarch64"
}

// platformEnv is a build context with archhello built for the host and the foreign
// architecture; it skips without a registered qemu-user emulator.
func platformEnv(t *testing.T) (*hushtest.Env, string, string) {
	requireHush(t)
	arch, qemu := foreignArch()
	reg, err := os.ReadFile("/proc/sys/fs/binfmt_misc/qemu-" + qemu)
	hushtest.Require(t, err == nil && strings.HasPrefix(string(reg), "enabled"),
		"needs qemu-user-static registered with binfmt_misc for "+arch+" (apt-get install qemu-user-static binfmt-support)")
	env := hushtest.NewEnv(t, hushBin)
	ctx := filepath.Dir(env.WriteFile("ctx/Dockerfile", platformDockerfile))
	src, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "archhello"))
	for _, a := range []string{runtime.GOARCH, arch} {
		cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", filepath.Join(ctx, "archhello-"+a), ".")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+a)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building archhello for %s: %v\n%s", a, err, out)
		}
	}
	return env, ctx, arch
}

// TestMultiPlatformBuild: --platform with the host's and a foreign platform builds both
// (the foreign RUN through qemu-user), with TARGETPLATFORM/BUILDPLATFORM as BuildKit sets
// them; an OCI output gets an index of both images (and, with --provenance, their
// attestation manifests), a local output a directory per platform, a push the index;
// the hush store refuses the index before building.
func TestMultiPlatformBuild(t *testing.T) {
	env, ctx, arch := platformEnv(t)
	host := "linux/" + runtime.GOARCH
	oci, local := filepath.Join(env.Dir, "oci"), filepath.Join(env.Dir, "local")
	reg := plainRegistry(t)
	ref := reg + "/hush/plat:1"
	mustBuild(t, env, "--platform", host+",linux/"+arch, "-t", ref, "--provenance=mode=min", "--push",
		"-o", "type=registry,registry.insecure=true", "-o", "type=oci,tar=false,dest="+oci, "-o", "type=local,dest="+local)

	idx, im, top := layoutIndex(t, oci)
	if len(im.Manifests) != 4 {
		t.Fatalf("index has %d manifests, want 2 images and 2 attestations", len(im.Manifests))
	}
	for i, want := range []string{runtime.GOARCH, arch} {
		d := im.Manifests[i]
		if d.Platform == nil || d.Platform.Architecture != want {
			t.Errorf("manifest %d platform %+v, want %s", i, d.Platform, want)
		}
		img, _ := idx.Image(d.Digest)
		cf, _ := img.ConfigFile()
		if cf.Architecture != want || cf.Config.Labels["target"] != "linux/"+want || cf.Config.Labels["build"] != host {
			t.Errorf("%s config: arch %s, labels %v", want, cf.Architecture, cf.Config.Labels)
		}
		got, err := os.ReadFile(filepath.Join(local, "linux_"+want, "arch.txt"))
		if err != nil || string(got) != want+"\n" {
			t.Errorf("linux_%s/arch.txt = %q (%v): the step did not run as %s", want, got, err, want)
		}
		if _, err := os.Stat(filepath.Join(local, "linux_"+want, "provenance.json")); err != nil {
			t.Errorf("no provenance.json for %s: %v", want, err)
		}
	}
	checkAttestationSubject(t, idx, im.Manifests[3], im.Manifests[1].Digest, "?platform=linux%2F"+arch)

	d, err := remoteGet(ref)
	if err != nil {
		t.Fatal(err)
	}
	if d.Digest != top {
		t.Errorf("pushed %s, the OCI output has %s", d.Digest, top)
	}

	out, errOut, code := env.Run("build", "--progress=plain", "--platform", host+",linux/"+arch, "-t", "plat:local", ctx)
	if code == 0 || !strings.Contains(errOut, "the hush store keeps single-platform images") || strings.Contains(errOut, "RUN") {
		t.Errorf("multi-platform into the store: exit %d, want a refusal before the build\n%s%s", code, out, errOut)
	}
}

// checkAttestationSubject: an attestation manifest of a multi-platform index names its
// image by a purl for that image's platform.
func checkAttestationSubject(t *testing.T, idx v1.ImageIndex, att v1.Descriptor, img v1.Hash, purlSuffix string) {
	t.Helper()
	if att.Annotations["vnd.docker.reference.digest"] != img.String() {
		t.Fatalf("attestation %v is not about %s", att.Annotations, img)
	}
	st := readStatement(t, idx, att)
	if len(st.Subject) != 1 || !strings.HasSuffix(st.Subject[0].Name, purlSuffix) || st.Subject[0].Digest["sha256"] != img.Hex {
		t.Errorf("subjects %+v, want %s…%s", st.Subject, img, purlSuffix)
	}
}

// TestForeignPlatformBuild: one foreign --platform makes a single image of that platform
// (no index) in the hush store, its step run through qemu-user.
func TestForeignPlatformBuild(t *testing.T) {
	env, _, arch := platformEnv(t)
	local := filepath.Join(env.Dir, "local")
	mustBuild(t, env, "--platform", "linux/"+arch, "-t", "foreign:1", "-o", "type=image", "-o", "type=local,dest="+local)
	got, err := os.ReadFile(filepath.Join(local, "arch.txt"))
	if err != nil || string(got) != arch+"\n" {
		t.Errorf("arch.txt = %q (%v), want %s", got, err, arch)
	}
	out, errOut, code := env.Run("inspect", "--format", "{{.Architecture}} {{.Os}} {{index .Config.Labels \"target\"}}", "foreign:1")
	if code != 0 || out != arch+" linux linux/"+arch+"\n" {
		t.Errorf("inspect: exit %d %q %s", code, out, errOut)
	}
}
