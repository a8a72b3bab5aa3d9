package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/hush-build/hush/internal/hushtest"
)

// hushBin and busyboxTar are built once per test binary by TestMain; empty when that
// failed (setupErr says why and every test that needs them skips or fails with it).
var (
	hushBin    string
	busyboxTar string
	setupErr   error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hush-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating temp dir:", err)
		os.Exit(2)
	}
	hushBin, setupErr = hushtest.BuildHush(dir)
	if setupErr == nil {
		busyboxTar = filepath.Join(dir, "busybox-rootfs.tar")
		setupErr = hushtest.WriteBusyboxTar(busyboxTar)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireHush skips (or in CI fails) unless the binary and base image are ready and we are root.
func requireHush(t *testing.T) {
	t.Helper()
	hushtest.RequireRoot(t)
	if setupErr != nil {
		hushtest.Require(t, false, "preparing hush: "+setupErr.Error())
	}
}

type exitCodeKey struct{}

// TestScripts runs testdata/script/*.txtar against the real binary. Each script gets its
// own HUSH_ROOT ($WORK-hush) with busybox:latest imported, $HTTP_URL pointing at a local
// HTTP server, and the commands below. With HUSH_TEST_ROOTLESS=1 every hush of a script
// (pipelines in `exec sh -c` too) runs as the rootless test user.
func TestScripts(t *testing.T) {
	requireHush(t)
	srv := httptest.NewServer(http.FileServerFS(httpFiles(t)))
	t.Cleanup(srv.Close)
	hush := hushBin
	if hushtest.Rootless() {
		hush = rootlessWrapper(t, hushtest.RootlessUser(t))
	}
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("..", "..", "testdata", "script"),
		Setup: func(e *testscript.Env) error {
			// The state directory lives beside $WORK, not in it, so that `COPY . /x`
			// of a script's context does not copy the store.
			root := e.WorkDir + "-hush"
			e.Defer(func() { os.RemoveAll(root) })
			e.Setenv("HUSH_ROOT", root)
			e.Setenv("HTTP_URL", srv.URL)
			// For pipelines in `exec sh -c`.
			e.Setenv("PATH", filepath.Dir(hush)+string(os.PathListSeparator)+e.Getenv("PATH"))
			e.Values[exitCodeKey{}] = new(int)
			e.Values[hushKey{}] = hush
			if err := os.Mkdir(root, 0o700); err != nil {
				return err
			}
			cmd := exec.Command(hush, "import", busyboxTar, "busybox:latest")
			cmd.Env = append(os.Environ(), "HUSH_ROOT="+root, "WORK="+e.WorkDir)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("hush import busybox: %w\n%s", err, out)
			}
			e.Defer(func() {
				ms, err := hushtest.MountsUnder("/proc/self/mountinfo", root)
				if err != nil || len(ms) > 0 {
					e.T().Fatal(fmt.Sprintf("mounts left under %s: %v %v", root, ms, err))
				}
			})
			return nil
		},
		Condition: condNeed,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"hush":     cmdHush,
			"exitcode": cmdExitCode,
			"tarls":    cmdTarLs,
		},
	})
}

type hushKey struct{}

// rootlessWrapper writes a "hush" that hands $WORK and $HUSH_ROOT (and what the script
// wrote there since) and the pipes testscript gave it for stdout and stderr to u, then
// runs the real binary as u.
func rootlessWrapper(t *testing.T, u hushtest.User) string {
	dir := t.TempDir()
	u.Reach(t, dir)
	u.Reach(t, filepath.Dir(hushBin))
	u.Reach(t, filepath.Dir(busyboxTar))
	script := fmt.Sprintf(`#!/bin/sh
for d in "$WORK" "$HUSH_ROOT"; do
	find "$d" ! -user %[1]d -exec chown -h %[1]d:%[2]d {} + 2>/dev/null
	d=$(dirname "$d"); chmod o+x "$d" "$(dirname "$d")"
done
for fd in 1 2; do [ -p /dev/fd/$fd ] && chown %[1]d:%[2]d /dev/fd/$fd; done
exec setpriv --reuid=%[1]d --regid=%[2]d --clear-groups -- %[3]q "$@"
`, u.UID, u.GID, hushBin)
	p := filepath.Join(dir, "hush")
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// condNeed is the [need:BIN] condition: true when BIN is on PATH; when it is not, false
// (the line is skipped) unless HUSH_REQUIRE_ALL=1 forbids skipping, which fails the script.
func condNeed(cond string) (bool, error) {
	bin, ok := strings.CutPrefix(cond, "need:")
	if !ok {
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	if _, err := exec.LookPath(bin); err == nil {
		return true, nil
	}
	if os.Getenv(hushtest.RequireAllEnv) == "1" {
		return false, fmt.Errorf("needs %s on PATH (%s=1 forbids skipping)", bin, hushtest.RequireAllEnv)
	}
	return false, nil
}

// cmdHush runs the real hush binary: hush ARGS... (stdin from the stdin command).
func cmdHush(ts *testscript.TestScript, neg bool, args []string) {
	err := ts.Exec(ts.Value(hushKey{}).(string), args...)
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("running hush: %v", err)
	}
	*ts.Value(exitCodeKey{}).(*int) = code
	if neg && code == 0 {
		ts.Fatalf("hush %s: unexpected success", strings.Join(args, " "))
	}
	if !neg && code != 0 {
		ts.Fatalf("hush %s: exit code %d", strings.Join(args, " "), code)
	}
}

// cmdExitCode asserts the exit code of the last hush command: exitcode N.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: exitcode N")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	if got := *ts.Value(exitCodeKey{}).(*int); got != want {
		ts.Fatalf("last hush exit code = %d, want %d", got, want)
	}
}

// cmdTarLs prints the entry names of a tar file, one a line: tarls FILE.
func cmdTarLs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: tarls FILE")
	}
	f, err := os.Open(ts.MkAbs(args[0]))
	ts.Check(err)
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				ts.Check(err)
			}
			return
		}
		fmt.Fprintln(ts.Stdout(), h.Name)
	}
}

// httpFiles is what the script HTTP server serves.
func httpFiles(t *testing.T) fstest.MapFS {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := []byte("inside remote tar\n")
	if err := tw.WriteHeader(&tar.Header{Name: "remote.txt", Mode: 0o644, Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return fstest.MapFS{
		"hello.txt":  {Data: []byte("hello from http\n"), Mode: 0o644},
		"remote.tar": {Data: buf.Bytes(), Mode: 0o644},
	}
}
