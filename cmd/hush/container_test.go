package main

import (
	"archive/tar"
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/hushtest"
)

// containerUID is the ordinary user hush runs as inside the test container, with the
// subordinate range containerSubIDs there.
const (
	containerUID    = 1000
	containerSubIDs = "400000:65536"
)

// rootlessContainer runs hush as an ordinary user in an unprivileged docker container:
// the host's /usr (Debian's hush dependencies) read-only, the hush binary at /opt/hush,
// copies of newuidmap and newgidmap with file capabilities at /opt/uidmap, and a work dir
// (a bind-mounted volume, the user's) at /work.
type rootlessContainer struct {
	image, hushDir, uidmapDir, work string
}

func newRootlessContainer(t *testing.T) *rootlessContainer {
	t.Helper()
	requireHush(t)
	hushtest.RequireDocker(t)
	setcap := hushtest.RequireBinary(t, "setcap")
	for _, l := range []string{"/bin", "/lib", "/lib64", "/sbin"} {
		target, err := os.Readlink(l)
		hushtest.Require(t, err == nil && strings.HasPrefix(target, "usr/"), "needs a merged-/usr host ("+l+" a link into /usr): the container borrows the host's /usr")
	}
	c := &rootlessContainer{image: fmt.Sprintf("hush-rootless-test-%d:v1", os.Getpid()),
		hushDir: filepath.Dir(hushBin), uidmapDir: t.TempDir(), work: t.TempDir()}
	for bin, capName := range map[string]string{"newuidmap": "cap_setuid", "newgidmap": "cap_setgid"} {
		dst := filepath.Join(c.uidmapDir, bin)
		run(t, "install", "-m", "0755", "/usr/bin/"+bin, dst)
		run(t, setcap, capName+"=ep", dst)
	}
	run(t, "chmod", "0755", c.uidmapDir, c.hushDir)
	run(t, "cp", busyboxTar, filepath.Join(c.work, "busybox.tar"))
	cmd := exec.Command("docker", "import", "-", c.image)
	cmd.Stdin = bytes.NewReader(containerRootfs(t))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker import: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", c.image).Run() })
	return c
}

// containerRootfs is a tar of the container's own files: the merged-/usr links, the user
// with its subordinate range, and empty mount points.
func containerRootfs(t *testing.T) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body string) {
		h.Size = int64(len(body))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []string{"bin", "lib", "lib64", "sbin"} {
		add(&tar.Header{Name: l, Typeflag: tar.TypeSymlink, Linkname: "usr/" + l}, "")
	}
	for _, d := range []string{"etc", "proc", "sys", "dev", "run", "usr", "opt/hush", "opt/uidmap", "work"} {
		add(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}, "")
	}
	add(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}, "")
	add(&tar.Header{Name: "home/builder/", Typeflag: tar.TypeDir, Mode: 0o755, Uid: containerUID, Gid: containerUID}, "")
	for name, body := range map[string]string{
		"etc/passwd":        fmt.Sprintf("root:x:0:0::/root:/bin/sh\nbuilder:x:%d:%d::/home/builder:/bin/sh\n", containerUID, containerUID),
		"etc/group":         fmt.Sprintf("root:x:0:\nbuilder:x:%d:\n", containerUID),
		"etc/subuid":        "builder:" + containerSubIDs + "\n",
		"etc/subgid":        "builder:" + containerSubIDs + "\n",
		"etc/nsswitch.conf": "passwd: files\ngroup: files\n",
	} {
		add(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644}, body)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// run runs script with sh in a fresh container as the user, with the docker options
// opts; HUSH_ROOT is /work/state unless the script says otherwise.
func (c *rootlessContainer) run(t *testing.T, opts []string, env []string, script string) (string, error) {
	t.Helper()
	run(t, "chown", "-R", fmt.Sprint(containerUID), c.work)
	args := append([]string{"run", "--rm", "--user", fmt.Sprintf("%d:%d", containerUID, containerUID),
		"--network=none",
		"-v", "/usr:/usr:ro", "-v", c.hushDir + ":/opt/hush:ro", "-v", c.uidmapDir + ":/opt/uidmap:ro",
		"-v", c.work + ":/work", "-w", "/work",
		"-e", "HOME=/home/builder", "-e", "PATH=/opt/uidmap:/opt/hush:/usr/bin:/usr/sbin", "-e", "HUSH_ROOT=/work/state"}, opts...)
	for _, kv := range env {
		args = append(args, "-e", kv)
	}
	args = append(args, c.image, "sh", "-c", script)
	out, err := exec.Command("docker", args...).CombinedOutput()
	return string(out), err
}

var unconfined = []string{"--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined"}

// parallelStagesDockerfile has two stages that run at once unless steps are serialized;
// each reports how many sleeps it sees (its own, and the other stage's if concurrent).
const parallelStagesDockerfile = `FROM busybox AS a
RUN --mount=type=secret,id=tok --mount=type=secret,id=envtok,env=ENVTOK \
    test -s /run/secrets/tok && test -n "$ENVTOK" && sleep 1 & sleep 0.5; echo "sleeps-a=$(ps -o comm | grep -c '^sleep$')"; wait
FROM busybox AS b
RUN sleep 1 & sleep 0.5; echo "sleeps-b=$(ps -o comm | grep -c '^sleep$')"; wait
FROM busybox
COPY --from=a /etc/passwd /a
COPY --from=b /etc/passwd /b
`

// TestRootlessInContainer: hush builds as an ordinary user inside a docker container run
// without --privileged (the Kubernetes pod case). With unconfined seccomp and AppArmor,
// file-capability uidmap helpers and the state dir on a volume, a build with a file and
// an env secret passes its audit and leaves neither secret in the work dir; under the
// container's masked /proc hush shares that /proc and runs one step at a time (and
// refuses runc), with systempaths=unconfined it has its own. Each missing piece fails
// with what to change: the default seccomp profile, Debian's setuid newuidmap, a state
// dir on the container's own overlay root without /dev/fuse (with /dev/fuse,
// fuse-overlayfs builds there, the same layers as the kernel's overlayfs).
func TestRootlessInContainer(t *testing.T) {
	c := newRootlessContainer(t)
	fileCanary := "CANARY-container-file-" + hex.EncodeToString(randBytes(t, 12))
	envCanary := "CANARY-container-env-" + hex.EncodeToString(randBytes(t, 12))
	writeFile(t, filepath.Join(c.work, "tok"), fileCanary)
	writeFile(t, filepath.Join(c.work, "ctx", "Dockerfile"), parallelStagesDockerfile)
	build := "hush import busybox.tar busybox:latest >/dev/null && hush info && " +
		"hush build --progress=plain --secret id=tok,src=tok --secret id=envtok,env=ENVTOK -t rl ctx && " +
		"hush audit rl --secret id=tok,src=tok --secret id=envtok,env=ENVTOK"
	env := []string{"ENVTOK=" + envCanary}

	out, err := c.run(t, unconfined, env, build)
	for _, want := range []string{"Mode:            rootless (uid 0→1000 (1), 1→400000 (65536)", "In a container:  yes",
		"Overlay driver:  overlayfs (kernel, userxattr)", "Processes:       shared /proc", "sleeps-a=1", "sleeps-b=1", "audit rl: clean;"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("masked /proc: output lacks %q (%v):\n%s", want, err, out)
		}
	}
	out, err = c.run(t, unconfined, nil, "hush build --runtime runc ctx")
	if err == nil || !strings.Contains(out, "--runtime runc: this container's /proc is masked") {
		t.Errorf("runc under a masked /proc: %v\n%s", err, out)
	}
	opts := append([]string{"--security-opt", "systempaths=unconfined"}, unconfined...)
	out, err = c.run(t, opts, env, "hush info --runtime runc && hush build --runtime runc --no-cache --progress=plain --secret id=tok,src=tok --secret id=envtok,env=ENVTOK ctx")
	for _, want := range []string{"Processes:       own PID namespace", "Runtime:         runc"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("systempaths=unconfined: output lacks %q (%v):\n%s", want, err, out)
		}
	}
	if err := os.Remove(filepath.Join(c.work, "tok")); err != nil {
		t.Fatal(err)
	}
	for _, canary := range []string{fileCanary, envCanary} {
		hushtest.NoCanary(t, []byte(canary), c.work)
	}
	checkContainerRefusals(t, c)
}

// checkContainerRefusals runs hush where a piece is missing and checks each error names
// the change to make.
func checkContainerRefusals(t *testing.T, c *rootlessContainer) {
	tests := []struct {
		name   string
		opts   []string
		script string
		want   string
	}{
		{"default seccomp profile", []string{"--security-opt", "apparmor=unconfined"}, "hush images",
			"run it with `--security-opt seccomp=unconfined`"},
		{"setuid newuidmap", unconfined, "PATH=/usr/bin:/usr/sbin /opt/hush/hush images",
			"use a copy with a file capability instead: `install -m 0755 /usr/bin/newuidmap /usr/local/bin/newuidmap && setcap cap_setuid=ep"},
		{"state dir on the container's root filesystem", unconfined, "HUSH_ROOT=/home/builder/state hush info",
			"put the state dir (--root, HUSH_ROOT) on a bind-mounted volume or a tmpfs, or give the container /dev/fuse"},
	}
	for _, tt := range tests {
		out, err := c.run(t, tt.opts, nil, tt.script)
		if err == nil || !strings.Contains(out, tt.want) {
			t.Errorf("%s: want a failure naming %q, got %v:\n%s", tt.name, tt.want, err, out)
		}
	}
	checkFuseMatchesKernel(t, c)
	checkKillLeavesNothing(t, c)
	checkLinksRefused(t, c)
}

// checkLinksRefused: under the masked /proc containers run one at a time, so a pipeline
// step whose service links to another is refused with the fix instead of waiting forever.
func checkLinksRefused(t *testing.T, c *rootlessContainer) {
	writeFile(t, filepath.Join(c.work, "pipe", "codeship-services.yml"),
		"app:\n  image: busybox\n  links: [db]\ndb:\n  image: busybox\n")
	writeFile(t, filepath.Join(c.work, "pipe", "codeship-steps.yml"), "- service: app\n  command: \"true\"\n")
	out, err := c.run(t, unconfined, nil, "hush import busybox.tar busybox:latest >/dev/null && timeout 60 hush steps --progress=plain --network=none pipe")
	if err == nil || !strings.Contains(out, "service app links to db") || !strings.Contains(out, "systempaths=unconfined") {
		t.Errorf("a linked service under the masked /proc: want a refusal naming the fix, got %v:\n%s", err, out)
	}
}

// checkKillLeavesNothing kills hush (-9) in the middle of a step that has a secret mounted,
// under the container's masked /proc with fuse-overlayfs layers: nothing hush started may
// live on (a fuse-overlayfs daemon would keep the namespace, and the tmpfs holding the
// step's secrets, reachable by the user's next job), and the secret is nowhere on disk.
func checkKillLeavesNothing(t *testing.T, c *rootlessContainer) {
	canary := "CANARY-container-kill-" + hex.EncodeToString(randBytes(t, 12))
	writeFile(t, filepath.Join(c.work, "killtok"), canary)
	writeFile(t, filepath.Join(c.work, "kill", "Dockerfile"), "FROM busybox\n"+
		"RUN --mount=type=secret,id=tok cat /run/secrets/tok >/dev/null && echo step-started && sleep 60\n")
	opts := append([]string{"--device", "/dev/fuse"}, unconfined...)
	script := `export HUSH_ROOT=/home/builder/state
		hush import busybox.tar busybox:latest >/dev/null && hush info | grep -E 'Overlay|Processes' || exit 1
		hush build --progress=plain --secret id=tok,src=killtok kill >/tmp/log 2>&1 &
		pid=$!; i=0
		until grep -q step-started /tmp/log; do sleep 0.1; i=$((i+1)); [ $i -lt 300 ] || { cat /tmp/log; exit 1; }; done
		kill -9 $pid; sleep 2
		for p in /proc/[0-9]*; do echo "left: $(cat $p/comm 2>/dev/null)"; done`
	out, err := c.run(t, opts, nil, script)
	for _, want := range []string{"Overlay driver:  fuse-overlayfs", "Processes:       shared /proc"} {
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("kill -9: output lacks %q (%v):\n%s", want, err, out)
		}
	}
	for _, left := range []string{"hush", "crun", "fuse-overlayfs", "sleep"} {
		if strings.Contains(out, "left: "+left+"\n") {
			t.Errorf("kill -9 of hush left %s running:\n%s", left, out)
		}
	}
	if err := os.Remove(filepath.Join(c.work, "killtok")); err != nil {
		t.Fatal(err)
	}
	hushtest.NoCanary(t, []byte(canary), c.work)
}

// fuseDockerfile replaces /etc (an opaque dir), makes new dirs (which fuse-overlayfs marks
// opaque and the kernel does not) and a file; every time is fixed.
const fuseDockerfile = `FROM busybox
RUN --network=none rm -rf /etc && mkdir /etc && echo fuse > /etc/x && mkdir -p /new/sub && \
    find /etc /new -exec touch -d '2000-01-01 00:00:00' {} +
RUN --network=none cat /etc/x && echo etc=$(ls /etc)
`

// checkFuseMatchesKernel builds with the state dir on the container's own root filesystem
// and /dev/fuse given (fuse-overlayfs) and on the volume (the kernel's overlayfs): the
// layers are the same, and the replaced /etc shows only what the step put there.
func checkFuseMatchesKernel(t *testing.T, c *rootlessContainer) {
	hushtest.Require(t, fileExists("/dev/fuse"), "needs /dev/fuse for fuse-overlayfs")
	writeFile(t, filepath.Join(c.work, "fuse", "Dockerfile"), fuseDockerfile)
	opts := append([]string{"--device", "/dev/fuse"}, unconfined...)
	script := `for root in /home/builder/state /work/state-kernel; do
		export HUSH_ROOT=$root; hush import busybox.tar busybox:latest >/dev/null && hush info | grep Overlay &&
		hush build --progress=plain -t f fuse && echo "layers $(hush inspect f | tr -d ' \n' | sed 's/.*"Layers":\[\([^]]*\)].*/\1/')" || exit 1
	done`
	out, err := c.run(t, opts, nil, script)
	for _, want := range []string{"Overlay driver:  fuse-overlayfs", "Overlay driver:  overlayfs (kernel, userxattr)", "fuse\n", "etc=x\n"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("fuse-overlayfs and the kernel's: output lacks %q (%v):\n%s", want, err, out)
		}
	}
	var layers []string
	for _, line := range strings.Split(out, "\n") {
		if l, ok := strings.CutPrefix(line, "layers "); ok {
			layers = append(layers, l)
		}
	}
	// busybox, the first RUN and the second (empty, as BuildKit writes one).
	if len(layers) != 2 || layers[0] != layers[1] || strings.Count(layers[0], "sha256:") != 3 {
		t.Errorf("fuse-overlayfs's layers differ from the kernel's: %q", layers)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
