package builder

import (
	"os"
	"path/filepath"

	"github.com/hush-build/hush/internal/executor"
	"github.com/hush-build/hush/internal/snapshot"
)

// EnterUserNamespace runs the current command of an ordinary user again inside hush's
// namespaces, its user namespace included, without preparing them for steps
// (EnterNamespace does that): every command that reads or changes a rootless state dir
// runs there, since its unpacked layers belong to the namespace's IDs. For root, or
// already inside, it does nothing and returns handled=false; in the parent it returns
// handled=true with the child's exit code.
func EnterUserNamespace(root string) (handled bool, code int, err error) {
	if os.Geteuid() == 0 || executor.InPrivateNS() {
		return false, 0, nil
	}
	code, err = executor.Reexec(root)
	return true, code, err
}

// detectMounts picks the overlay driver for the state dir root (snapshot.Detect): the
// kernel's overlayfs as root; in a user namespace the kernel's where it mounts under
// root, else fuse-overlayfs.
func detectMounts(root string) (overlayMounts, error) {
	d, err := snapshot.Detect(filepath.Join(root, "tmp"))
	return overlayMounts{driver: d}, err
}
