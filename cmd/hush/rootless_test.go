package main

import (
	"archive/tar"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/hush-build/hush/internal/hushtest"
)

// TestRootlessBuildSecretsAudit: an ordinary user builds with a file secret and an env
// secret; the step runs as root of a user namespace whose root is that user, the image
// audits clean, no form of either secret is anywhere the user's hush wrote (state dir,
// home, work, TMPDIR, tmpfs dir), files a step gave to uid 1000 belong to the user's
// subordinate uid 1000 on the host, and `hush info` reports the rootless set-up.
func TestRootlessBuildSecretsAudit(t *testing.T) {
	requireHush(t)
	e := hushtest.NewRootlessEnv(t, hushBin)
	fileCanary := "CANARY-rootless-file-" + hex.EncodeToString(randBytes(t, 12))
	envCanary := "CANARY-rootless-env-" + hex.EncodeToString(randBytes(t, 12))
	tok := e.WriteFile("tok", fileCanary)
	e.WriteFile("ctx/Dockerfile", `FROM busybox
RUN --mount=type=secret,id=tok --mount=type=secret,id=envtok,env=ENVTOK \
    test -s /run/secrets/tok && test -n "$ENVTOK" && \
    echo "step uid=$(id -u) map=$(tr -s ' ' < /proc/self/uid_map | tr '\n' ';')"
RUN mkdir /owned && echo x > /owned/f && chown -R 1000:1000 /owned
`)
	secrets := []string{"--secret", "id=tok,src=" + tok, "--secret", "id=envtok,env=HUSH_TEST_ENVTOK"}
	run := func(args ...string) (string, string, int) {
		return e.RunEnv([]string{"HUSH_TEST_ENVTOK=" + envCanary}, args...)
	}
	out, log, code := run(append([]string{"build", "--progress=plain", "-t", "rootless:v1"}, append(secrets, "ctx")...)...)
	if code != 0 {
		t.Fatalf("rootless build: exit %d\n%s%s", code, out, log)
	}
	wantMap := fmt.Sprintf("map= 0 %d 1;", e.User.UID)
	if !strings.Contains(log, "step uid=0 "+wantMap) {
		t.Errorf("the step did not run as root of a user namespace mapped to uid %d:\n%s", e.User.UID, log)
	}
	if out, log, code := run(append([]string{"audit", "rootless:v1"}, secrets...)...); code != 0 {
		t.Errorf("audit of the rootless image: exit %d\n%s%s", code, out, log)
	}
	info, log, code := run("info")
	for _, want := range []string{"Mode:            rootless (uid 0→" + strconv.Itoa(e.User.UID) + " (1)", "Overlay driver:  ", "Runtime:         crun"} {
		if code != 0 || !strings.Contains(info, want) {
			t.Errorf("hush info lacks %q (exit %d):\n%s%s", want, code, info, log)
		}
	}
	if fi, err := os.Stat(e.Root); err != nil || fi.Sys().(*syscall.Stat_t).Uid != uint32(e.User.UID) {
		t.Errorf("state dir %s is not the user's: %v", e.Root, err)
	}
	checkSubordinateOwner(t, e.Root, "owned/f", subUIDStart(t, e.User.Name)+999)
	if err := os.Remove(tok); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{fileCanary, envCanary} {
		e.NoCanary([]byte(c))
	}
}

// subUIDStart is the first subordinate uid /etc/subuid grants user.
func subUIDStart(t *testing.T, user string) int {
	b, err := os.ReadFile("/etc/subuid")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Split(line, ":"); len(f) == 3 && f[0] == user {
			n, err := strconv.Atoi(f[1])
			if err == nil {
				return n
			}
		}
	}
	t.Fatalf("no /etc/subuid range for %s", user)
	return 0
}

// checkSubordinateOwner finds the unpacked layer file rel under the state dir root and
// checks its owner on the host.
func checkSubordinateOwner(t *testing.T, root, rel string, uid int) {
	t.Helper()
	found := false
	_ = filepath.WalkDir(filepath.Join(root, "snapshots"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(p, "/"+rel) {
			return nil
		}
		found = true
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if got := fi.Sys().(*syscall.Stat_t).Uid; got != uint32(uid) {
			t.Errorf("%s belongs to uid %d on the host, want %d (uid 1000 in the namespace)", p, got, uid)
		}
		return nil
	})
	if !found {
		t.Errorf("no unpacked %s under %s", rel, root)
	}
}

// sameLayersDockerfile exercises what a user namespace changes for layers: owners other
// than root, set-id bits, hard and symbolic links, a fifo, an opaque directory, a file
// capability and a user xattr (from an ADDed archive), whiteouts. Every time is fixed
// but the whiteouts', which carry the moment of deletion (in any two builds).
const sameLayersDockerfile = `FROM busybox
ADD caps.tar /
RUN --network=none mkdir -p /d && echo hello > /hello && chown 1000:1000 /d && echo x > /d/f && \
    chown 1234:5678 /d/f && chmod 4755 /d/f && ln -s /hello /d/link && ln /hello /d/hard && mkfifo /d/fifo && \
    rm -rf /etc && mkdir /etc && echo new > /etc/x; \
    find /d /hello /etc -exec touch -h -d '2000-01-01 00:00:00' {} +
RUN rm /bin/true /d/f && touch -d '2000-01-01 00:00:00' /bin /d
`

// TestRootlessLayersMatchRootful: the same Dockerfile on the same base built by root and
// by an ordinary user gives the same layers: byte for byte (same diff IDs) where the steps
// are deterministic, and the same entries, owners, modes and xattrs where a step deleted
// files (whiteouts carry the time of deletion).
func TestRootlessLayersMatchRootful(t *testing.T) {
	requireHush(t)
	var layers [2][][]string
	for i, e := range []*hushtest.Env{hushtest.NewRootfulEnv(t, hushBin), hushtest.NewRootlessEnv(t, hushBin)} {
		writeCapsTar(t, e.WriteFile("ctx/caps.tar", ""))
		e.WriteFile("ctx/Dockerfile", sameLayersDockerfile)
		dest := filepath.Join(e.Dir, "oci")
		if out, log, code := e.Run("build", "--progress=plain", "--output", "type=oci,dest="+dest, "ctx"); code != 0 {
			t.Fatalf("build %d: exit %d\n%s%s", i, code, out, log)
		}
		layers[i] = ociLayers(t, dest)
	}
	root, user := layers[0], layers[1]
	if len(root) != 4 || len(user) != 4 {
		t.Fatalf("want 4 layers each, got %d (root) and %d (rootless)", len(root), len(user))
	}
	for i := 1; i < 3; i++ {
		if root[i][0] != user[i][0] {
			t.Errorf("layer %d differs: root %s, rootless %s\nroot:\n%s\nrootless:\n%s", i, root[i][0], user[i][0],
				strings.Join(root[i][1:], "\n"), strings.Join(user[i][1:], "\n"))
		}
	}
	if r, u := strings.Join(root[3][1:], "\n"), strings.Join(user[3][1:], "\n"); r != u {
		t.Errorf("whiteout layer entries differ:\nroot:\n%s\nrootless:\n%s", r, u)
	}
	if !strings.Contains(strings.Join(user[1], "\n"), "security.capability") {
		t.Errorf("the file capability is missing from the ADD layer:\n%s", strings.Join(user[1], "\n"))
	}
}

// writeCapsTar writes a tar holding a file with a v2 file capability (cap_net_bind_service)
// and one with a user xattr, times fixed.
func writeCapsTar(t *testing.T, path string) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	caps := "\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	for _, h := range []*tar.Header{
		{Name: "capfile", Mode: 0o755, PAXRecords: map[string]string{"SCHILY.xattr.security.capability": caps}},
		{Name: "userx", Mode: 0o644, Uid: 33, Gid: 33, PAXRecords: map[string]string{"SCHILY.xattr.user.hush": "test"}},
	} {
		h.Typeflag, h.ModTime, h.Format = tar.TypeReg, time.Unix(946684800, 0), tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ociLayers reads the one image of the OCI layout dir and returns, per layer, its diff ID
// followed by one line per tar entry (whiteouts' mtimes left out).
func ociLayers(t *testing.T, dir string) [][]string {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil || len(m.Manifests) != 1 {
		t.Fatalf("OCI layout: %v, %d manifests", err, len(m.Manifests))
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, l := range ls {
		d, err := l.DiffID()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, append([]string{d.String()}, tarEntries(t, rc)...))
		rc.Close()
	}
	return out
}

func tarEntries(t *testing.T, r io.Reader) []string {
	var lines []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return lines
		}
		if err != nil {
			t.Fatal(err)
		}
		mtime := h.ModTime.Unix()
		if strings.HasPrefix(filepath.Base(h.Name), ".wh.") {
			mtime = 0
		}
		lines = append(lines, fmt.Sprintf("%s %c %o %d:%d %d %s %q", h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, mtime, h.Linkname, h.PAXRecords))
	}
}

// TestRootlessSetupErrors: without subordinate ID ranges, or without newuidmap, an
// ordinary user's hush fails at once naming what to configure or install.
func TestRootlessSetupErrors(t *testing.T) {
	requireHush(t)
	tests := []struct {
		name string
		user hushtest.User
		env  []string
		want []string
	}{
		{"no subordinate IDs", hushtest.UserWithoutSubIDs(t), nil, []string{
			"needs subordinate IDs in /etc/subuid and /etc/subgid", "`sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 " + hushtest.TestUserName + "-noids`"}},
		{"no newuidmap", hushtest.RootlessUser(t), []string{"PATH=/nonexistent"}, []string{
			"newuidmap not found: install the Debian package uidmap"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			tt.user.Own(t, home)
			cmd := tt.user.Command(append([]string{"HOME=" + home}, tt.env...), hushBin, "images")
			tt.user.Reach(t, filepath.Dir(hushBin))
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("hush images succeeded:\n%s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(string(out), "goroutine ") {
				t.Errorf("a Go stack trace:\n%s", out)
			}
		})
	}
}

// TestStepSysIsReadOnly: a step on the host's network sees no writable mount under /sys,
// with crun and runc. Rootless hush binds the host's /sys there, and a plain read-only
// rbind left the cgroup tree below it (the user's own delegated cgroups: cgroup.kill,
// cgroup.freeze) and the FUSE connections writable. Run as root and, in CI's rootless
// pass, as the ordinary user.
func TestStepSysIsReadOnly(t *testing.T) {
	requireHush(t)
	e := hushtest.NewEnv(t, hushBin)
	e.WriteFile("ctx/Dockerfile", `FROM busybox
RUN awk '$5 ~ "^/sys" && $6 !~ /(^|,)ro(,|$)/ {print "wr" "itable:", $5}' /proc/self/mountinfo; \
    echo "sys mounts: $(grep -c ' /sys' /proc/self/mountinfo)"
`)
	for _, rt := range []string{"crun", "runc"} {
		hushtest.RequireBinary(t, rt)
		out, log, code := e.Run("build", "--no-cache", "--progress=plain", "--runtime", rt, filepath.Join(e.Dir, "ctx"))
		if code != 0 || !strings.Contains(log, "sys mounts: ") {
			t.Fatalf("%s: exit %d\n%s%s", rt, code, out, log)
		}
		if strings.Contains(log, "writable:") {
			t.Errorf("%s: a step can write below /sys:\n%s", rt, log)
		}
	}
}

// TestRootlessStepsOwnNetwork: rootless RUN steps on the default network are in a network
// namespace of the build's own (outbound through pasta), so the host's abstract unix
// sockets — an X server's among them, which would take a step for the user — are out of
// their reach; --network=host still shares the host's.
func TestRootlessStepsOwnNetwork(t *testing.T) {
	requireHush(t)
	e := hushtest.NewRootlessEnv(t, hushBin)
	name := "hush-test-abstract-" + hex.EncodeToString(randBytes(t, 6))
	l, err := net.Listen("unix", "@"+name)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e.WriteFile("ctx/Dockerfile", "FROM busybox\nRUN echo \"abstract=$(grep -c "+name+" /proc/net/unix) links=$(ls /sys/class/net | tr '\\n' ' ')\"\n")
	for _, tt := range []struct {
		flags []string
		want  string
	}{
		{nil, "abstract=0 "},
		{[]string{"--network=host"}, "abstract=1 "},
	} {
		args := append(append([]string{"build", "--no-cache", "--progress=plain"}, tt.flags...), filepath.Join(e.Dir, "ctx"))
		out, log, code := e.Run(args...)
		if code != 0 || !strings.Contains(log, tt.want) {
			t.Errorf("%v: want %q (exit %d):\n%s%s", tt.flags, tt.want, code, out, log)
		}
		if tt.flags == nil && strings.Contains(log, "share the host's network") {
			t.Errorf("the default network fell back to the host's:\n%s", log)
		}
	}
}
