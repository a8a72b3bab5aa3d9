package snapshot

import (
	"fmt"
	"io"
	"os"

	"github.com/hush-build/hush/internal/fsroot"
	"github.com/hush-build/hush/internal/rootless"
	"github.com/hush-build/hush/internal/untar"
)

// Unpack extracts the uncompressed OCI layer tar r into dir (created if missing) in
// overlay format: .wh.<name> becomes a 0/0 char device <name>, .wh..wh..opq sets
// trusted.overlay.opaque=y on its dir (user.overlay.opaque=y in a user namespace). Owners,
// modes, mtimes, xattrs, hard links, devices and fifos are restored (in a user namespace
// devices and trusted.* xattrs cannot be, and are left out: see untar.Options.UserNS).
// Every name is resolved inside dir (untar's rules), so no entry can reach outside it.
func Unpack(r io.Reader, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("unpacking layer: %w", err)
	}
	root, err := fsroot.Open(dir)
	if err != nil {
		return fmt.Errorf("unpacking layer: %w", err)
	}
	defer root.Close()
	if err := untar.Extract(r, root, untar.Options{Overlay: true, RootMeta: true, UserNS: rootless.InUserNS()}); err != nil {
		return fmt.Errorf("unpacking layer into %s: %w", dir, err)
	}
	return nil
}
