package rootless

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// TmpfsDir is the directory on a tmpfs where an ordinary user's hush keeps what must not
// reach a disk (the audit ledger's key, registry-auth generator output):
// $XDG_RUNTIME_DIR/hush when $XDG_RUNTIME_DIR is a tmpfs, else /dev/shm/hush-UID. It is
// created 0700 and must be a real directory the user owns, not a symlink. With neither
// tmpfs it is "" (as for root then: no ledger key, and generators refuse to run).
func TmpfsDir() (string, error) {
	dir := filepath.Join("/dev/shm", "hush-"+strconv.Itoa(os.Getuid()))
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" && isTmpfs(x) {
		dir = filepath.Join(x, "hush")
	} else if !isTmpfs("/dev/shm") {
		return "", nil
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
		return "", fmt.Errorf("rootless: creating %s: %w", dir, err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return "", fmt.Errorf("rootless: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Uid != uint32(os.Getuid()) || st.Mode&0o077 != 0 {
		return "", fmt.Errorf("rootless: %s must be a directory of user %d with mode 0700 (it holds keys); remove it or set HUSH_TMPFS_DIR", dir, os.Getuid())
	}
	if !isTmpfs(dir) {
		return "", fmt.Errorf("rootless: %s is not on a tmpfs; set HUSH_TMPFS_DIR to a directory on one", dir)
	}
	return dir, nil
}

func isTmpfs(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false
	}
	return st.Type == unix.TMPFS_MAGIC || st.Type == unix.RAMFS_MAGIC
}
