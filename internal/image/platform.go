package image

import (
	"errors"
	"fmt"

	"github.com/containerd/platforms"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/lease"
)

// annotationAlternate marks an image pulled for a FROM on another platform than the one
// its name is on: the value is that name. The image keeps no name (docker's <none>), so
// every other command sees the named one; builds for its platform find it.
const annotationAlternate = "dev.hush.platform-alternate"

// ErrOtherPlatform is returned (wrapped, with ErrNotFound) when a name is stored for
// another platform only.
var ErrOtherPlatform = errors.New("stored for another platform")

// PlatformOf is an image's platform, from its config.
func PlatformOf(img v1.Image) (v1.Platform, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return v1.Platform{}, fmt.Errorf("reading image config: %w", err)
	}
	return v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}, nil
}

// PlatformMatches reports whether an image of platform got serves want (normalized: arm64
// and arm64/v8 are one; an image that records no architecture serves any).
func PlatformMatches(want, got v1.Platform) bool {
	if got.Architecture == "" {
		return true
	}
	return platforms.OnlyStrict(ociPlatform(want)).Match(ociPlatform(got))
}

func ociPlatform(p v1.Platform) platforms.Platform {
	return platforms.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
}

// FormatPlatform is os/arch[/variant], normalized.
func FormatPlatform(p v1.Platform) string {
	return platforms.Format(platforms.Normalize(ociPlatform(p)))
}

// ImageForPlatform is ImageFor for a FROM on platform want: the image named ref when it
// serves want, else the image pulled for want beside it. An image ID is used as it is.
// When the name is stored for another platform only, the error wraps ErrNotFound and
// ErrOtherPlatform.
func (s *Store) ImageForPlatform(ref string, want v1.Platform, l *lease.Lease) (v1.Image, Entry, error) {
	img, e, err := s.ImageFor(ref, l)
	if err != nil || looksLikeID(ref) {
		return img, e, err
	}
	got, err := PlatformOf(img)
	if err != nil {
		return nil, Entry{}, err
	}
	if PlatformMatches(want, got) {
		return img, e, nil
	}
	norm, err := NormalizeName(ref)
	if err != nil {
		return nil, Entry{}, err
	}
	if alt, ok := s.alternate(norm, want); ok {
		return s.ImageFor(alt, l)
	}
	return nil, Entry{}, fmt.Errorf("looking up image %q: %w (%s): %w", ref, ErrOtherPlatform, FormatPlatform(got), ErrNotFound)
}

// alternate finds the image pulled under norm for platform want, as name@digest.
func (s *Store) alternate(norm string, want v1.Platform) (string, bool) {
	idx, err := s.readIndex()
	if err != nil {
		return "", false
	}
	repo, _ := splitName(norm)
	for _, d := range idx.Manifests {
		if d.Annotations[annotationAlternate] == norm && d.Platform != nil && PlatformMatches(want, *d.Platform) {
			return repo + "@" + d.Digest.String(), true
		}
	}
	return "", false
}

// putAlternate stores img, pulled under norm for its platform p while norm names an image
// of another platform, beside it: unnamed, marked as norm's image for p (replacing an
// earlier one for p).
func (s *Store) putAlternate(img v1.Image, norm string, p v1.Platform) error {
	desc, m, _, err := s.writeImageBlobs(img, nil)
	if err != nil {
		return fmt.Errorf("storing image: %w", err)
	}
	unlock, err := s.lock()
	if err != nil {
		return fmt.Errorf("storing image: %w", err)
	}
	defer unlock()
	if err := s.ensureBlobs(img, desc, m); err != nil {
		return fmt.Errorf("storing image: %w", err)
	}
	idx, err := s.readIndex()
	if err != nil {
		return fmt.Errorf("storing image: %w", err)
	}
	var out []v1.Descriptor
	for _, d := range idx.Manifests {
		if d.Annotations[annotationAlternate] == norm && d.Platform != nil && PlatformMatches(p, *d.Platform) {
			d.Annotations, d.Platform = nil, nil // the earlier one stays, as <none>
		}
		out = append(out, d)
	}
	pl := p
	desc.Platform = &pl
	desc.Annotations = map[string]string{annotationAlternate: norm}
	idx.Manifests = dropRedundantUnnamed(append(out, desc))
	return s.writeIndex(idx)
}
