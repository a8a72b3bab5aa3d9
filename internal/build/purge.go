package build

import v1 "github.com/google/go-containerregistry/pkg/v1"

// PurgeLayers removes img's layers whose digests are in digests from the build cache, the
// layer store (unless a stored image uses them) and the unpacked snapshots, so no later
// build reuses them. It returns how many layers it purged.
func (b *Builder) PurgeLayers(img v1.Image, digests map[string]bool) int {
	layers, err := img.Layers()
	if err != nil {
		return 0
	}
	n := 0
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil || !digests[d.String()] {
			continue
		}
		_, _ = b.Cache.RemoveLayer(d.String())
		_ = b.Images.RemoveBlobIfUnused(d)
		if diff, err := l.DiffID(); err == nil {
			_ = b.Snapshots.Remove(diff)
		}
		n++
	}
	return n
}
