package hushtest

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// ShmDir makes a directory on /dev/shm (a tmpfs) that belongs to t and is removed when t
// ends, for code that must keep something on a tmpfs: a test checks that directory, never
// all of /dev/shm, which other programs share.
func ShmDir(t testing.TB) string {
	t.Helper()
	Require(t, IsTmpfs("/dev/shm"), "needs /dev/shm on a tmpfs")
	return ownedDir(t, "/dev/shm")
}

// PersistentDir makes a directory that belongs to t, is removed when t ends and is not on
// a tmpfs or ramfs, for tests of code that must refuse to put secrets on a persistent
// disk. It tries the test's temp dir, then /var/tmp, then the module root.
func PersistentDir(t testing.TB) string {
	t.Helper()
	if d := t.TempDir(); !IsTmpfs(d) {
		return d
	}
	candidates := []string{"/var/tmp"}
	if root, err := ModuleRoot(); err == nil {
		candidates = append(candidates, root)
	}
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil && !IsTmpfs(c) {
			return ownedDir(t, c)
		}
	}
	Require(t, false, "needs a directory not on a tmpfs; the test temp dir, "+strings.Join(candidates, " and ")+" all are")
	return ""
}

// ownedDir makes a fresh directory under parent, removed when t ends.
func ownedDir(t testing.TB, parent string) string {
	t.Helper()
	d, err := os.MkdirTemp(parent, "hush-test-")
	if err != nil {
		t.Fatalf("creating a test directory under %s: %v", parent, err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// IsTmpfs reports whether dir is on a tmpfs or ramfs (false when it cannot be checked).
func IsTmpfs(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false
	}
	return st.Type == unix.TMPFS_MAGIC || st.Type == unix.RAMFS_MAGIC
}
