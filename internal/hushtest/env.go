package hushtest

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Env is one test's hush state directory (HUSH_ROOT) with busybox:latest imported.
type Env struct {
	// Root is the state directory, HUSH_ROOT of every Run.
	Root string
	// Hush is the binary Run executes.
	Hush string
	// Dir is a scratch directory for build contexts and outputs.
	Dir string
	t   testing.TB
}

// NewEnv makes a fresh state directory under t.TempDir(), imports the busybox base as
// busybox:latest with the hush binary at hush, and registers a cleanup that fails t if any
// mount is left under the state directory.
func NewEnv(t testing.TB, hush string) *Env {
	t.Helper()
	RequireRoot(t)
	base := t.TempDir()
	e := &Env{Root: filepath.Join(base, "root"), Hush: hush, Dir: filepath.Join(base, "work"), t: t}
	if err := os.MkdirAll(e.Dir, 0o755); err != nil {
		t.Fatalf("creating work dir: %v", err)
	}
	t.Cleanup(func() { CheckNoMounts(t, e.Root) })
	tar := BusyboxTar(t)
	if out, errOut, code := e.Run("import", tar, "busybox:latest"); code != 0 {
		t.Fatalf("hush import busybox: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	return e
}

// Run runs hush with args against the environment's state directory.
func (e *Env) Run(args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	return e.RunStdin(nil, args...)
}

// RunStdin is Run with stdin.
func (e *Env) RunStdin(stdin io.Reader, args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	cmd := e.Command(args...)
	cmd.Stdin = stdin
	var o, er bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &er
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
		if code < 0 {
			code = 128 // killed by a signal
		}
	default:
		e.t.Fatalf("running hush %v: %v", args, err)
	}
	return o.String(), er.String(), code
}

// Command returns an unstarted hush command with HUSH_ROOT set, for tests that need to
// control the process (signals, process groups).
func (e *Env) Command(args ...string) *exec.Cmd {
	cmd := exec.Command(e.Hush, args...)
	cmd.Env = append(os.Environ(), "HUSH_ROOT="+e.Root)
	cmd.Dir = e.Dir
	return cmd
}

// WriteFile writes a file under Dir (creating parents) and returns its path.
func (e *Env) WriteFile(name, content string) string {
	e.t.Helper()
	p := filepath.Join(e.Dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatalf("creating %s: %v", filepath.Dir(p), err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatalf("writing %s: %v", p, err)
	}
	return p
}
