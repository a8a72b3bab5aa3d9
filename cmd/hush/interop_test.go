package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/hushtest"
)

const interopDockerfile = `FROM busybox
RUN echo "built by hush" > /msg.txt
CMD ["cat", "/msg.txt"]
`

// newInteropEnv is a fresh hush environment holding the interop Dockerfile.
func newInteropEnv(t *testing.T) *hushtest.Env {
	t.Helper()
	requireHush(t)
	e := hushtest.NewEnv(t, hushBin)
	e.WriteFile("ctx/Dockerfile", interopDockerfile)
	return e
}

// mustBuild runs `hush build` with args on e's context and fails t unless it succeeds.
func mustBuild(t *testing.T, e *hushtest.Env, args ...string) {
	t.Helper()
	args = append(append([]string{"build", "--progress=plain"}, args...), filepath.Join(e.Dir, "ctx"))
	if out, errOut, code := e.Run(args...); code != 0 {
		t.Fatalf("hush %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
}

// run runs a command and fails t unless it succeeds; it returns the combined output.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// dockerName is an image name unique to this test process, removed from docker afterwards.
func dockerName(t *testing.T, what string) string {
	t.Helper()
	name := fmt.Sprintf("hush-interop-%s-%d:v1", what, os.Getpid())
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", name).Run() })
	return name
}

func TestDockerLoadRunDockerArchive(t *testing.T) {
	hushtest.RequireDocker(t)
	e := newInteropEnv(t)
	name := dockerName(t, "docker")
	archive := filepath.Join(e.Dir, "img.tar")
	mustBuild(t, e, "--output", "type=docker,dest="+archive+",name="+name)
	if out := run(t, "docker", "load", "-i", archive); !strings.Contains(out, name) {
		t.Errorf("docker load output does not name %s:\n%s", name, out)
	}
	if out := run(t, "docker", "run", "--rm", "--network=none", name); out != "built by hush\n" {
		t.Errorf("docker run %s printed %q, want %q", name, out, "built by hush\n")
	}
}

// TestOCIArchiveRunsInDocker: the OCI archive (type=oci,dest=FILE.tar) reaches a docker
// engine through skopeo (oci-archive: to docker-daemon:) and runs there. `docker load`
// itself reads OCI archives only from docker 25 on; Debian 12's docker.io (20.10, what CI
// installs) cannot, so `docker load` is tested with the docker-archive form
// (TestDockerLoadRunDockerArchive) and the OCI forms with skopeo and umoci.
func TestOCIArchiveRunsInDocker(t *testing.T) {
	hushtest.RequireDocker(t)
	skopeo := hushtest.RequireBinary(t, "skopeo")
	e := newInteropEnv(t)
	name := dockerName(t, "oci")
	archive := filepath.Join(e.Dir, "img-oci.tar")
	mustBuild(t, e, "--output", "type=oci,dest="+archive+",name="+name)
	run(t, skopeo, "copy", "--quiet", "oci-archive:"+archive, "docker-daemon:"+name)
	if out := run(t, "docker", "run", "--rm", "--network=none", name); out != "built by hush\n" {
		t.Errorf("docker run %s printed %q, want %q", name, out, "built by hush\n")
	}
}

func TestSkopeoAndUmociReadOCILayout(t *testing.T) {
	skopeo := hushtest.RequireBinary(t, "skopeo")
	umoci := hushtest.RequireBinary(t, "umoci")
	e := newInteropEnv(t)
	layout := filepath.Join(e.Dir, "layout")
	mustBuild(t, e, "--output", "type=oci,dest="+layout+",name=interop:v1")

	out := run(t, skopeo, "inspect", "oci:"+layout+":v1")
	for _, want := range []string{`"Architecture"`, `"Layers"`, `"sha256:`} {
		if !strings.Contains(out, want) {
			t.Errorf("skopeo inspect output lacks %s:\n%s", want, out)
		}
	}
	out = run(t, skopeo, "inspect", "--config", "oci:"+layout+":v1")
	if !strings.Contains(out, `"/msg.txt"`) {
		t.Errorf("skopeo inspect --config lacks the CMD:\n%s", out)
	}

	bundle := filepath.Join(e.Dir, "bundle")
	run(t, umoci, "unpack", "--image", layout+":v1", bundle)
	got, err := os.ReadFile(filepath.Join(bundle, "rootfs", "msg.txt"))
	if err != nil {
		t.Fatalf("reading the file umoci unpacked: %v", err)
	}
	if string(got) != "built by hush\n" {
		t.Errorf("umoci unpacked msg.txt = %q", got)
	}
	if _, err := os.Lstat(filepath.Join(bundle, "rootfs", "bin", "busybox")); err != nil {
		t.Errorf("umoci unpacked no base layer: %v", err)
	}
}
