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
	// User, when set, is the ordinary user every Run runs hush as (rootless): then Root
	// is the default state dir under Home, which HUSH_ROOT does not override.
	User *User
	Home string
	t    testing.TB
}

// NewEnv makes a fresh state directory under t.TempDir(), imports the busybox base as
// busybox:latest with the hush binary at hush, and registers a cleanup that fails t if any
// mount is left under the state directory. With HUSH_TEST_ROOTLESS=1 it is NewRootlessEnv.
func NewEnv(t testing.TB, hush string) *Env {
	t.Helper()
	if Rootless() {
		return NewRootlessEnv(t, hush)
	}
	return NewRootfulEnv(t, hush)
}

// NewRootfulEnv is NewEnv for root, whatever HUSH_TEST_ROOTLESS says.
func NewRootfulEnv(t testing.TB, hush string) *Env {
	t.Helper()
	RequireRoot(t)
	return importBusybox(t, newEnvDirs(t, hush))
}

// NewRootlessEnv is NewEnv for the ordinary test user (RootlessUser): every Run runs hush
// as that user, with its own HOME under t.TempDir() (the state dir is the default one
// there, $HOME/.local/share/hush) and every directory of the environment its own.
func NewRootlessEnv(t testing.TB, hush string) *Env {
	t.Helper()
	u := RootlessUser(t)
	e := newEnvDirs(t, hush)
	e.User, e.Home = &u, filepath.Join(filepath.Dir(e.Root), "home")
	e.Root = filepath.Join(e.Home, ".local", "share", "hush")
	if err := os.Mkdir(e.Home, 0o700); err != nil {
		t.Fatalf("creating test directory: %v", err)
	}
	u.Own(t, e.Home, e.Dir, e.Tmp, e.Shm)
	u.Reach(t, filepath.Dir(hush))
	return importBusybox(t, e)
}

func importBusybox(t testing.TB, e *Env) *Env {
	t.Helper()
	t.Cleanup(func() { CheckNoMounts(t, e.Root) })
	tar := BusyboxTar(t)
	if e.User != nil {
		e.User.Reach(t, filepath.Dir(tar))
	}
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
	return e.run(cmd, args)
}

// RunEnv is Run with extra environment variables ("KEY=value").
func (e *Env) RunEnv(env []string, args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	cmd := e.Command(args...)
	cmd.Env = append(cmd.Env, env...)
	return e.run(cmd, args)
}

func (e *Env) run(cmd *exec.Cmd, args []string) (stdout, stderr string, code int) {
	e.t.Helper()
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
	var cmd *exec.Cmd
	if e.User != nil {
		// Whatever the test wrote into Dir (a secret file is 0600) becomes the user's.
		e.User.Own(e.t, e.Dir)
		e.User.ReachSiblings(e.t, filepath.Dir(e.Dir))
		cmd = e.User.Command([]string{"HOME=" + e.Home, "TMPDIR=" + e.Tmp, TmpfsDirEnv + "=" + e.Shm}, e.Hush, args...)
	} else {
		cmd = exec.Command(e.Hush, args...)
		cmd.Env = append(os.Environ(), "HUSH_ROOT="+e.Root, "TMPDIR="+e.Tmp, TmpfsDirEnv+"="+e.Shm)
	}
	cmd.Dir = e.Dir
	return cmd
}

// FindCanary is FindCanary over every directory of the environment (state, work, TMPDIR
// and tmpfs directories) and paths.
func (e *Env) FindCanary(canary []byte, paths ...string) ([]string, error) {
	state := e.Root
	if e.Home != "" {
		state = e.Home // the state dir and all else hush keeps in the user's home
	}
	return FindCanary(canary, append([]string{state, e.Dir, e.Tmp, e.Shm}, paths...)...)
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
	if e.User != nil {
		for d := p; d != e.Dir && d != filepath.Dir(d); d = filepath.Dir(d) {
			if err := os.Lchown(d, e.User.UID, e.User.GID); err != nil {
				e.t.Fatalf("handing %s to %s: %v", d, e.User.Name, err)
			}
		}
	}
	return p
}
