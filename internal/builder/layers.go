package builder

import (
	"github.com/hush-build/hush/internal/lease"

	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/snapshot"
)

// Lowers returns the unpacked dirs of layers as overlay lowers, top-most first,
// unpacking any layer the snapshot store does not have yet.
func Lowers(snaps *snapshot.Store, layers []v1.Layer) ([]string, error) {
	out := make([]string, len(layers))
	for i, l := range layers {
		d, err := l.DiffID()
		if err != nil {
			return nil, fmt.Errorf("reading layer diffID: %w", err)
		}
		dir, err := snaps.Ensure(d, l.Uncompressed)
		if err != nil {
			return nil, fmt.Errorf("unpacking layer %s: %w", d, err)
		}
		out[len(layers)-1-i] = dir
	}
	return out, nil
}

// lowers is Lowers with every layer held by the build's lease first, so that no purge or
// removal deletes an unpacked layer while it is an overlay lower of this build.
func (b *Builder) lowers(layers []v1.Layer) ([]string, error) {
	var refs []string
	for _, l := range layers {
		d, err := l.DiffID()
		if err != nil {
			return nil, fmt.Errorf("reading layer diffID: %w", err)
		}
		refs = append(refs, lease.LayerRef(d.String()))
	}
	if err := b.Lease.Hold(refs...); err != nil {
		return nil, err
	}
	return Lowers(b.Snapshots, layers)
}
