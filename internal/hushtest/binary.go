package hushtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// ModuleRoot finds the directory holding go.mod by walking up from the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding module root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// BuildHush compiles ./cmd/hush of the enclosing module into dir and returns the binary's
// path. Call it once per test binary, from TestMain.
func BuildHush(dir string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "hush")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/hush")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building hush: %w\n%s", err, out)
	}
	return bin, nil
}

// BusyboxTar writes a busybox root filesystem tarball (scripts/busybox-rootfs.sh) into a
// temporary directory of t and returns its path.
func BusyboxTar(t testing.TB) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "busybox-rootfs.tar")
	if err := WriteBusyboxTar(out); err != nil {
		Require(t, false, err.Error())
	}
	return out
}

// WriteBusyboxTar runs scripts/busybox-rootfs.sh to write the busybox rootfs tarball to out.
func WriteBusyboxTar(out string) error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(root, "scripts", "busybox-rootfs.sh"), out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("making busybox rootfs (needs busybox-static): %w\n%s", err, msg)
	}
	return nil
}
