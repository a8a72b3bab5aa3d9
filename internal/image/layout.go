package image

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// FromLayout reads an image from the OCI layout at dir, as buildx resolves an
// oci-layout:// build context: by manifest digest, else by tag (ref.name annotation, or
// "latest"), else the layout's only image; an index is resolved to the image for platform p.
func FromLayout(dir, tag, digest string, p v1.Platform) (v1.Image, error) {
	ii, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %s: %w", dir, err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %s: %w", dir, err)
	}
	d, err := pickDescriptor(im.Manifests, tag, digest)
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	if !d.MediaType.IsIndex() {
		return ii.Image(d.Digest)
	}
	child, err := ii.ImageIndex(d.Digest)
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	cm, err := child.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	for _, m := range cm.Manifests {
		if m.Platform != nil && PlatformMatches(p, *m.Platform) {
			return child.Image(m.Digest)
		}
	}
	return nil, fmt.Errorf("OCI layout %s: no image for %s in index %s", dir, FormatPlatform(p), d.Digest)
}

func pickDescriptor(ds []v1.Descriptor, tag, digest string) (v1.Descriptor, error) {
	if digest != "" {
		for _, d := range ds {
			if d.Digest.String() == digest {
				return d, nil
			}
		}
		return v1.Descriptor{}, fmt.Errorf("no manifest %s", digest)
	}
	want := tag
	if want == "" {
		want = "latest"
	}
	for _, d := range ds {
		if d.Annotations[AnnotationRefName] == want {
			return d, nil
		}
	}
	if tag == "" && len(ds) == 1 {
		return ds[0], nil
	}
	return v1.Descriptor{}, fmt.Errorf("no image tagged %q (and not exactly one image)", want)
}
