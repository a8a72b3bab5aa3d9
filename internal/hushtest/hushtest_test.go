package hushtest

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestMountsUnder(t *testing.T) {
	tests := []struct {
		dir  string
		want []Mount
	}{
		{"/var/lib/hush", []Mount{
			{Point: "/var/lib/hush/run", FSType: "tmpfs", Source: "tmpfs"},
			{Point: "/var/lib/hush/snapshots/ab/merged", FSType: "overlay", Source: "overlay"},
		}},
		{"/var/lib/hush/run", []Mount{{Point: "/var/lib/hush/run", FSType: "tmpfs", Source: "tmpfs"}}},
		{"/tmp/with space", []Mount{{Point: "/tmp/with space/x", FSType: "tmpfs", Source: "my src"}}},
		{"/nowhere", nil},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			got, err := MountsUnder("testdata/mountinfo", tt.dir)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("MountsUnder(%q) = %+v, want %+v", tt.dir, got, tt.want)
			}
		})
	}
}

func TestMountsUnderErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "mountinfo")
	if err := os.WriteFile(bad, []byte("1 2 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{bad, filepath.Join(t.TempDir(), "missing")} {
		if _, err := MountsUnder(path, "/"); err == nil {
			t.Errorf("MountsUnder(%s): want an error", path)
		}
	}
}

func TestMountsUnderSelf(t *testing.T) {
	// The real table always has a root mount.
	ms, err := MountsUnder("/proc/self/mountinfo", "/")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].Point == "" {
		t.Errorf("no mounts parsed from /proc/self/mountinfo: %v", ms)
	}
}

func TestFindProcesses(t *testing.T) {
	proc := t.TempDir()
	for pid, cmdline := range map[string]string{
		"10":   "sleep\x0067\x00",
		"11":   "sleep\x0068\x00",
		"12":   "",
		"self": "sleep\x0067\x00",
	} {
		if err := os.MkdirAll(filepath.Join(proc, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(proc, pid, "cmdline"), []byte(cmdline), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := FindProcesses(proc, "sleep", "67")
	if err != nil {
		t.Fatal(err)
	}
	want := []Process{{PID: 10, Cmdline: []string{"sleep", "67"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FindProcesses = %+v, want %+v", got, want)
	}
	self, err := FindProcesses("/proc", mustCmdline(t)...)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range self {
		found = found || p.PID == os.Getpid()
	}
	if !found {
		t.Errorf("FindProcesses(/proc, own argv) did not find pid %d", os.Getpid())
	}
}

func mustCmdline(t *testing.T) []string {
	t.Helper()
	return os.Args
}

// recorder is a testing.TB that records Skip and Fatal instead of stopping the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                      {}
func (r *recorder) Skip(args ...any)             { r.skipped = fmt.Sprint(args...) }
func (r *recorder) Fatalf(f string, args ...any) { r.failed = fmt.Sprintf(f, args...) }

func TestRequire(t *testing.T) {
	tests := []struct {
		name       string
		ok         bool
		requireAll string
		skip, fail bool
	}{
		{"met", true, "", false, false},
		{"met in CI", true, "1", false, false},
		{"unmet skips", false, "", true, false},
		{"unmet fails in CI", false, "1", false, true},
		{"other value skips", false, "0", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(RequireAllEnv, tt.requireAll)
			r := &recorder{TB: t}
			Require(r, tt.ok, "needs a thing")
			if (r.skipped != "") != tt.skip || (r.failed != "") != tt.fail {
				t.Errorf("skipped=%q failed=%q, want skip=%v fail=%v", r.skipped, r.failed, tt.skip, tt.fail)
			}
		})
	}
}

func TestModuleRootAndBusybox(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "hush")); err != nil {
		t.Fatalf("module root %s has no cmd/hush: %v", root, err)
	}
	RequireBinary(t, "busybox")
	tar := BusyboxTar(t)
	fi, err := os.Stat(tar)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() < 100<<10 {
		t.Errorf("busybox rootfs tar is only %d bytes", fi.Size())
	}
}

func TestEnv(t *testing.T) {
	RequireRoot(t)
	bin, err := BuildHush(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := NewEnv(t, bin)
	out, errOut, code := e.Run("images", "-q")
	if code != 0 || len(out) < 12 {
		t.Fatalf("hush images -q: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, _, code := e.Run("inspect", "no-such-image"); code == 0 {
		t.Errorf("hush inspect no-such-image: exit 0, want non-zero")
	}
}

// TestEnvOwnsTempDirs: what a process run by Env.Command writes to $TMPDIR and
// $HUSH_TMPFS_DIR lands in directories of the test, and Env.FindCanary reads them.
func TestEnvOwnsTempDirs(t *testing.T) {
	e := newEnvDirs(t, "/bin/sh")
	canary := "CANARY-env-" + filepath.Base(t.TempDir())
	cmd := e.Command("-c", `printf %s "$C" > "$TMPDIR/a"; printf %s "$C" > "$`+TmpfsDirEnv+`/b"`)
	cmd.Env = append(cmd.Env, "C="+canary)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	hits, err := e.FindCanary([]byte(canary))
	want := []string{filepath.Join(e.Tmp, "a"), filepath.Join(e.Shm, "b")}
	if err != nil || !reflect.DeepEqual(hits, want) {
		t.Errorf("hits %v (%v), want %v", hits, err, want)
	}
	if filepath.Dir(e.Tmp) != filepath.Dir(e.Dir) || !strings.HasPrefix(e.Shm, "/dev/shm/hush-test-") {
		t.Errorf("TMPDIR %s is not beside the work dir %s, or %s is not a fresh dir on /dev/shm", e.Tmp, e.Dir, e.Shm)
	}
}

// TestOwnedDirs: ShmDir is a fresh tmpfs directory and PersistentDir one on a disk, both
// removed when the test that made them ends.
func TestOwnedDirs(t *testing.T) {
	var shm, disk string
	t.Run("make", func(t *testing.T) {
		shm, disk = ShmDir(t), PersistentDir(t)
		if !IsTmpfs(shm) || IsTmpfs(disk) {
			t.Errorf("ShmDir %s tmpfs=%v, PersistentDir %s tmpfs=%v", shm, IsTmpfs(shm), disk, IsTmpfs(disk))
		}
	})
	for _, d := range []string{shm, disk} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s outlived its test: %v", d, err)
		}
	}
}
