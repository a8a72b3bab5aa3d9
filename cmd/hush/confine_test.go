package main

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hush-build/hush/internal/hushtest"
)

// victimDir makes a host directory a hostile Dockerfile aims its symlinks at, holding the
// empty files and dirs hush's mount-point stub handling would remove, and returns it with
// a listing to compare against afterwards.
func victimDir(t *testing.T) (string, func() string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "victim")
	for _, d := range []string{"sub/deeper", "created"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"resolv.conf", "hosts", "sub/deeper/s", "sub/tok"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	list := func() string {
		var b strings.Builder
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				b.WriteString(p + " error " + err.Error() + "\n")
				return nil
			}
			var st unix.Stat_t
			if err := unix.Lstat(p, &st); err == nil {
				b.WriteString(strings.TrimPrefix(p, dir) + " " + os.FileMode(st.Mode).String() +
					" " + strings.Repeat("*", int(st.Nlink)) + " " + unixTime(st.Mtim) + "\n")
			}
			return nil
		})
		return b.String()
	}
	return dir, list
}

func unixTime(ts unix.Timespec) string { return fmt.Sprint(ts.Sec, ".", ts.Nsec) }

// TestStepsStayInRootfs plants symlinks to a host directory from RUN steps and then makes
// hush create a working directory, set up and remove mount-point stubs, restore parent
// mtimes and copy files through them. The host directory must not change.
func TestStepsStayInRootfs(t *testing.T) {
	requireHush(t)
	tests := []struct {
		name       string
		dockerfile string
	}{
		{"working dir through a symlink", `FROM busybox
WORKDIR /w/created
RUN rm -rf /w && ln -s VICTIM /w
RUN true
`},
		{"image working dir through a symlink", `FROM busybox AS base
WORKDIR /w/created
RUN rm -rf /w && ln -s VICTIM /w
FROM base
RUN true
`},
		{"stubs removed through a symlink the step planted", `FROM busybox
RUN --mount=type=tmpfs,target=/x/sub/deeper/s mv /x /x.old && ln -s VICTIM /x
`},
		{"secret stub through a symlink the step planted", `FROM busybox
RUN --mount=type=secret,id=tok,target=/x/sub/tok mv /x /x.old && ln -s VICTIM /x
`},
		{"network stubs through /etc planted by the step", `FROM busybox
RUN mv /etc /etc.old && ln -s VICTIM /etc
`},
		{"copy destination through a symlink", `FROM busybox
RUN ln -s VICTIM /dst
COPY f /dst/sub/
COPY f /dst/created/f2
`},
		{"chown lookup through a symlinked /etc", `FROM busybox
RUN mv /etc /etc.old && ln -s VICTIM /etc
COPY --chown=nobody f /f
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := hushtest.NewEnv(t, hushBin)
			victim, list := victimDir(t)
			before := list()
			e.WriteFile("ctx/Dockerfile", strings.ReplaceAll(tt.dockerfile, "VICTIM", victim))
			e.WriteFile("ctx/f", "copied")
			cmd := e.Command("build", "--progress=plain", "--secret", "id=tok,env=TOK", "-t", "confined", "ctx")
			cmd.Env = append(cmd.Env, "TOK=confinement-canary-token")
			out, _ := cmd.CombinedOutput()
			if after := list(); after != before {
				t.Fatalf("the build changed host directory %s\n--- before\n%s--- after\n%s--- build output\n%s", victim, before, after, out)
			}
		})
	}
}

// TestContextSymlinksStayInContext: a Dockerfile or .dockerignore that is a symlink to a
// host file (or a FIFO) is context content, maybe hostile: it must never show a host file in
// the build log nor hang the build.
func TestContextSymlinksStayInContext(t *testing.T) {
	requireHush(t)
	tests := []struct {
		name  string
		setup func(t *testing.T, ctx string)
	}{
		{"Dockerfile to the environment", func(t *testing.T, ctx string) {
			if err := os.Symlink("/proc/self/environ", filepath.Join(ctx, "Dockerfile")); err != nil {
				t.Fatal(err)
			}
		}},
		{"Dockerfile to a host file", func(t *testing.T, ctx string) {
			if err := os.Symlink(filepath.Join(filepath.Dir(ctx), "host-secret"), filepath.Join(ctx, "Dockerfile")); err != nil {
				t.Fatal(err)
			}
		}},
		{"Dockerfile that is a FIFO", func(t *testing.T, ctx string) {
			if err := unix.Mkfifo(filepath.Join(ctx, "Dockerfile"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{".dockerignore that is a FIFO", func(t *testing.T, ctx string) {
			if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM busybox\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := unix.Mkfifo(filepath.Join(ctx, ".dockerignore"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := hushtest.NewEnv(t, hushBin)
			canary := "CANARY-host-" + filepath.Base(t.TempDir())
			if err := os.WriteFile(filepath.Join(e.Dir, "host-secret"), []byte("RUN "+canary+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx := filepath.Join(e.Dir, "ctx")
			if err := os.MkdirAll(ctx, 0o755); err != nil {
				t.Fatal(err)
			}
			tt.setup(t, ctx)
			cmd := e.Command("build", "--progress=plain", "ctx")
			cmd.Env = append(cmd.Env, "HUSH_CANARY_ENV="+canary)
			done := make(chan []byte, 1)
			go func() { out, _ := cmd.CombinedOutput(); done <- out }()
			select {
			case out := <-done:
				if strings.Contains(string(out), canary) {
					t.Errorf("the build log shows a host file's content:\n%s", out)
				}
				if !strings.Contains(string(out), "ERROR") {
					t.Errorf("the build did not fail clearly:\n%s", out)
				}
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatal("the build hung on a FIFO in the context")
			}
		})
	}
}

// TestBindMountOfAContextWithASocket: a unix socket in the build context (an agent, a
// docker.sock) must not be reachable from a step through a bind mount of the context, nor
// a filesystem mounted under the context dir.
func TestBindMountOfAContextWithASocket(t *testing.T) {
	requireHush(t)
	e := hushtest.NewEnv(t, hushBin)
	ctx := filepath.Join(e.Dir, "ctx")
	if err := os.MkdirAll(filepath.Join(ctx, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(ctx, "sub", "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 64)
			n, _ := c.Read(buf)
			got <- string(buf[:n])
			c.Close()
		}
	}()
	probe := filepath.Join(e.Dir, "sockprobe")
	build := exec.Command("go", "build", "-o", probe, "./internal/hushtest/sockprobe")
	build.Dir = filepath.Join("..", "..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building sockprobe: %v\n%s", err, out)
	}
	e.WriteFile("ctx/Dockerfile", `FROM busybox
RUN --mount=type=bind,target=/ctx --mount=type=bind,from=probe,source=/sockprobe,target=/sockprobe \
    /sockprobe /ctx/sub/agent.sock
`)
	e.WriteFile("probe/Dockerfile", "FROM scratch\nCOPY sockprobe /sockprobe\n")
	if err := os.Rename(probe, filepath.Join(e.Dir, "probe", "sockprobe")); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := e.Run("build", "--progress=plain", "-t", "probe", "probe"); code != 0 {
		t.Fatalf("building the probe image: %d\n%s%s", code, out, errOut)
	}
	out, errOut, code := e.Run("build", "--progress=plain", "--no-cache", "ctx")
	if code != 0 {
		t.Fatalf("build: %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "refused:") {
		t.Errorf("the probe did not report a refused connection:\n%s", errOut)
	}
	select {
	case msg := <-got:
		t.Fatalf("a step reached a host socket through the context: %q\n%s", msg, errOut)
	case <-time.After(500 * time.Millisecond):
	}
}
