package executor

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hush-build/hush/internal/fsroot"
	"github.com/hush-build/hush/internal/hushtest"
)

// TestStubsRemove simulates what a runtime leaves in an overlay upper dir for missing mount
// points, and checks that exactly those stubs go.
func TestStubsRemove(t *testing.T) {
	rootfs := t.TempDir() // the merged view before the step
	upper := t.TempDir()  // what the step changed
	mustMkdir(t, filepath.Join(rootfs, "etc"))
	mustMkdir(t, filepath.Join(rootfs, "run"))
	old := time.Unix(1000, 0)

	// The runtime created stubs; the step also wrote /run/keep and a real /data/file.
	mustMkdir(t, filepath.Join(upper, "proc"))
	mustMkdir(t, filepath.Join(upper, "run", "secrets"))
	mustWrite(t, filepath.Join(upper, "run", "secrets", "tok"), "")
	mustWrite(t, filepath.Join(upper, "run", "keep"), "x")
	mustMkdir(t, filepath.Join(upper, "etc"))
	mustWrite(t, filepath.Join(upper, "etc", "hosts"), "")
	mustMkdir(t, filepath.Join(upper, "data"))
	mustWrite(t, filepath.Join(upper, "data", "file"), "kept")
	// Copied-up dirs keep their lower mode, as overlay does.
	os.Chmod(filepath.Join(upper, "etc"), 0o755)
	os.Chmod(filepath.Join(rootfs, "etc"), 0o755)
	os.Chmod(filepath.Join(upper, "run"), 0o755)
	os.Chmod(filepath.Join(rootfs, "run"), 0o755)
	os.Chtimes(filepath.Join(rootfs, "run"), old, old)
	root, err := fsroot.Open(rootfs)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	s := FindStubs(root, []string{"/proc", "/run/secrets/tok", "/etc/hosts", "/data"})

	if err := s.Remove(upper); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"proc", "run/secrets", "etc"} {
		if _, err := os.Lstat(filepath.Join(upper, gone)); err == nil {
			t.Errorf("%s should have been removed", gone)
		}
	}
	for _, kept := range []string{"run/keep", "data/file"} {
		if _, err := os.Lstat(filepath.Join(upper, kept)); err != nil {
			t.Errorf("%s should be kept: %v", kept, err)
		}
	}
	fi, err := os.Stat(filepath.Join(upper, "run"))
	if err != nil || !fi.ModTime().Equal(old) {
		t.Errorf("/run mtime = %v, want restored %v", fi.ModTime(), old)
	}
}

func mustMkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestStubsRemoveNeverFollowsPlantedSymlinks: the step replaced a stub's parent with a
// symlink to a host directory holding files of the same names; none of them may go.
func TestStubsRemoveNeverFollowsPlantedSymlinks(t *testing.T) {
	rootfs, upper, outside := t.TempDir(), t.TempDir(), t.TempDir()
	mustMkdir(t, filepath.Join(rootfs, "etc"))
	old := time.Unix(1000, 0)
	os.Chtimes(filepath.Join(rootfs, "etc"), old, old)
	mustMkdir(t, filepath.Join(outside, "sub"))
	mustWrite(t, filepath.Join(outside, "sub", "tok"), "")
	mustWrite(t, filepath.Join(outside, "hosts"), "")
	root, err := fsroot.Open(rootfs)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	s := FindStubs(root, []string{"/x/sub/tok", "/etc/hosts"})
	// What the step left: /x and /etc replaced by links to the outside dir.
	if err := os.Symlink(outside, filepath.Join(upper, "x")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(upper, "etc")); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(outside)
	if err := s.Remove(upper); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"sub/tok", "hosts", "sub"} {
		if _, err := os.Lstat(filepath.Join(outside, f)); err != nil {
			t.Errorf("outside %s removed through a planted symlink: %v", f, err)
		}
	}
	if after, _ := os.Stat(outside); !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("outside dir mtime changed through a planted symlink")
	}
}

// TestStubsKeepOpaqueDirs: an existing dir the step emptied and made again is opaque in
// the upper (trusted.overlay.opaque as root, user.overlay.opaque rootless) and must stay,
// or the lower's content would show through again.
func TestStubsKeepOpaqueDirs(t *testing.T) {
	for _, xattr := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		t.Run(xattr, func(t *testing.T) {
			rootfs, upper := t.TempDir(), t.TempDir()
			mustMkdir(t, filepath.Join(rootfs, "etc"))
			mustMkdir(t, filepath.Join(upper, "etc"))
			if err := unix.Lsetxattr(filepath.Join(upper, "etc"), xattr, []byte("y"), 0); err != nil {
				hushtest.Require(t, false, "setting "+xattr+": "+err.Error())
			}
			root, err := fsroot.Open(rootfs)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			if err := FindStubs(root, []string{"/etc/hosts"}).Remove(upper); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(filepath.Join(upper, "etc")); err != nil {
				t.Errorf("the opaque /etc was removed: %v", err)
			}
		})
	}
}
