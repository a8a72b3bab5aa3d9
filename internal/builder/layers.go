package builder

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/snapshot"
)

// mounter puts a root filesystem together from unpacked layers. A build uses overlayfs
// (overlayMounts, which needs root); the package's tests use plain copies, so that the
// orchestration is tested without root.
type mounter interface {
	// Mount shows lowers (top-most first) at ws.Merged, the step's writes going to ws.Upper.
	Mount(ws *snapshot.Workspace, lowers []string) (unmount func() error, err error)
	// MountReadOnly shows lowers (top-most first) at target, read-only.
	MountReadOnly(lowers []string, target string) (unmount func() error, err error)
}

// overlayMounts mounts overlays with the driver snapshot.Detect chose.
type overlayMounts struct{ driver snapshot.Driver }

func (m overlayMounts) Mount(ws *snapshot.Workspace, lowers []string) (func() error, error) {
	return m.driver.Mount(ws, lowers)
}

func (m overlayMounts) MountReadOnly(lowers []string, target string) (func() error, error) {
	return m.driver.MountReadOnly(lowers, target)
}

// Lowers returns the unpacked dirs of layers as overlay lowers, top-most first,
// unpacking any layer the snapshot store does not have yet. A layer that occurs again
// higher up (the empty layer of every step that changed nothing, or two equal COPYs) is
// given once, at its top-most place: overlayfs refuses a lower dir given twice (ELOOP),
// and the lower copy can show nothing the upper one does not.
func Lowers(snaps *snapshot.Store, layers []v1.Layer) ([]string, error) {
	out := make([]string, 0, len(layers))
	seen := map[string]bool{}
	for i := len(layers) - 1; i >= 0; i-- {
		l := layers[i]
		d, err := l.DiffID()
		if err != nil {
			return nil, fmt.Errorf("reading layer diffID: %w", err)
		}
		dir, err := snaps.Ensure(d, l.Uncompressed)
		if err != nil {
			return nil, fmt.Errorf("unpacking layer %s: %w", d, err)
		}
		if !seen[dir] {
			seen[dir] = true
			out = append(out, dir)
		}
	}
	return out, nil
}

// Unpack unpacks img's layers into the snapshots of the state dir root now, as docker does
// at load time, so the first build on the image does not pay for it.
func Unpack(root string, img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("reading layers: %w", err)
	}
	s, err := openStores(root)
	if err != nil {
		return err
	}
	if _, err := Lowers(s.snaps, layers); err != nil {
		return fmt.Errorf("unpacking: %w", err)
	}
	return nil
}
