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

// TmpfsDirEnv names the tmpfs directory hush keeps registry-auth generator output and the
// credential-cache key in (internal/registry.TmpfsDirEnv; hushtest imports no hush package).
const TmpfsDirEnv = "HUSH_TMPFS_DIR"

// Env is one test's hush state directory (HUSH_ROOT) with busybox:latest imported. Every
// directory a hush process it runs may write to belongs to the test, so a canary check
// reads only them (NoCanary), never a shared directory such as /tmp or /dev/shm.
type Env struct {
	// Root is the state directory, HUSH_ROOT of every Run.
	Root string
	// Hush is the binary Run executes.
	Hush string
	// Dir is a scratch directory for build contexts and outputs.
	Dir string
	// Tmp is TMPDIR of every Run, for hush and the programs it starts.
	Tmp string
	// Shm is a directory on /dev/shm, HUSH_TMPFS_DIR of every Run.
	Shm string
	t   testing.TB
}

// NewEnv makes a fresh state directory under t.TempDir(), imports the busybox base as
// busybox:latest with the hush binary at hush, and registers a cleanup that fails t if any
// mount is left under the state directory.
func NewEnv(t testing.TB, hush string) *Env {
	t.Helper()
	RequireRoot(t)
	e := newEnvDirs(t, hush)
	t.Cleanup(func() { CheckNoMounts(t, e.Root) })
	tar := BusyboxTar(t)
	if out, errOut, code := e.Run("import", tar, "busybox:latest"); code != 0 {
		t.Fatalf("hush import busybox: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	return e
}

// newEnvDirs makes the directories of an Env (all but Root, which hush creates).
func newEnvDirs(t testing.TB, hush string) *Env {
	t.Helper()
	base := t.TempDir()
	e := &Env{Root: filepath.Join(base, "root"), Hush: hush, Dir: filepath.Join(base, "work"),
		Tmp: filepath.Join(base, "tmp"), Shm: ShmDir(t), t: t}
	for _, d := range []string{e.Dir, e.Tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("creating test directory: %v", err)
		}
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

// Command returns an unstarted hush command with HUSH_ROOT, TMPDIR and HUSH_TMPFS_DIR set
// to the environment's directories, for tests that need to control the process (signals,
// process groups).
func (e *Env) Command(args ...string) *exec.Cmd {
	cmd := exec.Command(e.Hush, args...)
	cmd.Env = append(os.Environ(), "HUSH_ROOT="+e.Root, "TMPDIR="+e.Tmp, TmpfsDirEnv+"="+e.Shm)
	cmd.Dir = e.Dir
	return cmd
}

// FindCanary is FindCanary over every directory of the environment (state, work, TMPDIR
// and tmpfs directories) and paths.
func (e *Env) FindCanary(canary []byte, paths ...string) ([]string, error) {
	return FindCanary(canary, append([]string{e.Root, e.Dir, e.Tmp, e.Shm}, paths...)...)
}

// NoCanary fails the test when the canary is in a file under any directory of the
// environment or under paths (other directories the test owns, such as a registry's).
// Inputs that hold the canary on purpose must be removed first.
func (e *Env) NoCanary(canary []byte, paths ...string) {
	e.t.Helper()
	hits, err := e.FindCanary(canary, paths...)
	reportLeaks(e.t, hits, err)
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
