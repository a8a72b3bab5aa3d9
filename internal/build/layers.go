package build

import (
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
