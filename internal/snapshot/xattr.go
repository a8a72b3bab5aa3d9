package snapshot

import (
	"bytes"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/hush-build/hush/internal/untar"
)

// The OCI layer-tar conventions, shared with the extractor that reads layers back.
const (
	opaqueXattr     = untar.OpaqueXattr
	userOpaqueXattr = untar.UserOpaqueXattr
	fuseOpaqueXattr = untar.FuseOpaqueXattr
	paxXattrPrefix  = untar.PAXXattrPrefix
	whiteoutPrefix  = untar.WhiteoutPrefix
	opaqueMarker    = untar.OpaqueMarker
)

func isOverlayXattr(name string) bool { return untar.IsOverlayXattr(name) }

// listXattrs returns all xattrs of path (not following a final symlink).
func listXattrs(path string) (map[string]string, error) {
	names, err := llistxattr(path)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(names))
	for _, n := range names {
		v, err := lgetxattr(path, n)
		if errors.Is(err, unix.ENODATA) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out[n] = string(v)
	}
	return out, nil
}

func llistxattr(path string) ([]string, error) {
	size := 256
	for {
		buf := make([]byte, size)
		n, err := unix.Llistxattr(path, buf)
		if errors.Is(err, unix.ERANGE) {
			size *= 4
			continue
		}
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("listing xattrs of %s: %w", path, err)
		}
		var names []string
		for _, b := range bytes.Split(buf[:n], []byte{0}) {
			if len(b) > 0 {
				names = append(names, string(b))
			}
		}
		return names, nil
	}
}

func lgetxattr(path, name string) ([]byte, error) {
	size := 256
	for {
		buf := make([]byte, size)
		n, err := unix.Lgetxattr(path, name, buf)
		if errors.Is(err, unix.ERANGE) {
			size *= 4
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading xattr %s of %s: %w", name, path, err)
		}
		return buf[:n], nil
	}
}
