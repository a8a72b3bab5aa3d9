package image

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/lease"
)

// ErrConflict is returned (wrapped) when removing by ID an image that is
// named in several repositories without force, or when an ID prefix is
// ambiguous.
var ErrConflict = errors.New("image reference conflict")

const minIDPrefix = 4

// match is what a reference resolved to.
type match struct {
	digest    v1.Hash   // the manifest to use
	manifests []v1.Hash // every manifest the reference covers (several manifests may share one config)
	name      string    // set when the reference matched a stored name exactly
}

// find resolves ref against idx: an ID ("sha256:<hex or prefix>", 64 hex),
// then a name, then a name@digest by manifest digest, then a bare hex
// prefix of at least 4 digits as an ID prefix (like docker).
func (s *Store) find(idx *v1.IndexManifest, ref string) (match, error) {
	if ref == "" {
		return match{}, errors.New("looking up image: empty reference")
	}
	if hexID, ok := strings.CutPrefix(ref, "sha256:"); ok {
		if !isHex(hexID) || len(hexID) < minIDPrefix || len(hexID) > 64 {
			return match{}, fmt.Errorf("looking up image %q: invalid image ID", ref)
		}
		return s.findID(idx, ref, hexID)
	}
	if len(ref) == 64 && isHex(ref) {
		return s.findID(idx, ref, ref)
	}
	norm, nerr := NormalizeName(ref)
	if nerr == nil {
		for _, d := range idx.Manifests {
			if d.Annotations[AnnotationRefName] == norm {
				return match{digest: d.Digest, manifests: []v1.Hash{d.Digest}, name: norm}, nil
			}
		}
		if _, obj := splitName(norm); strings.HasPrefix(obj, "sha256:") {
			for _, d := range idx.Manifests {
				if d.Digest.String() == obj && isImageMediaType(d.MediaType) {
					return match{digest: d.Digest, manifests: []v1.Hash{d.Digest}}, nil
				}
			}
		}
	}
	if len(ref) >= minIDPrefix && isHex(ref) {
		return s.findID(idx, ref, ref)
	}
	if nerr != nil {
		return match{}, fmt.Errorf("looking up image: %w", nerr)
	}
	return match{}, fmt.Errorf("looking up image %q: %w", ref, ErrNotFound)
}

func isHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return s != ""
}

// findID resolves an image ID (config digest) hex prefix.
func (s *Store) findID(idx *v1.IndexManifest, ref, prefix string) (match, error) {
	var m match
	var ids []v1.Hash
	for _, d := range idx.Manifests {
		if !isImageMediaType(d.MediaType) || slices.Contains(m.manifests, d.Digest) {
			continue
		}
		_, man, err := s.readManifest(d.Digest)
		if err != nil {
			return match{}, fmt.Errorf("looking up image %q: %w", ref, err)
		}
		if !strings.HasPrefix(man.Config.Digest.Hex, prefix) {
			continue
		}
		if !slices.Contains(ids, man.Config.Digest) {
			ids = append(ids, man.Config.Digest)
		}
		m.manifests = append(m.manifests, d.Digest)
	}
	switch len(ids) {
	case 0:
		return match{}, fmt.Errorf("looking up image %q: %w", ref, ErrNotFound)
	case 1:
		m.digest = m.manifests[0]
		return m, nil
	default:
		return match{}, fmt.Errorf("looking up image %q: ID prefix matches %d images: %w", ref, len(ids), ErrConflict)
	}
}

// Remove works like `docker rmi` without -f: a name is untagged (the image
// is deleted once no names remain); an ID or digest deletes the image with
// all its names, unless the names span several repositories. It returns
// docker-style lines: "Untagged: busybox:latest", "Deleted: sha256:…".
func (s *Store) Remove(ref string) ([]string, error) {
	return s.remove(ref, false)
}

// ForceRemove is Remove with docker's -f: an ID named in several
// repositories is untagged from all of them and deleted.
func (s *Store) ForceRemove(ref string) ([]string, error) {
	return s.remove(ref, true)
}

func (s *Store) remove(ref string, force bool) ([]string, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, fmt.Errorf("removing image %q: %w", ref, err)
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return nil, fmt.Errorf("removing image %q: %w", ref, err)
	}
	m, err := s.find(idx, ref)
	if err != nil {
		return nil, fmt.Errorf("removing image: %w", err)
	}
	var out []string
	var gone []v1.Hash
	if m.name != "" {
		idx.Manifests = slices.DeleteFunc(idx.Manifests, func(d v1.Descriptor) bool {
			return d.Annotations[AnnotationRefName] == m.name
		})
		out = append(out, "Untagged: "+FamiliarName(m.name))
		if !hasDigest(idx.Manifests, m.digest) {
			gone = []v1.Hash{m.digest}
		}
	} else {
		var names []string
		repos := map[string]bool{}
		for _, d := range m.manifests {
			for _, n := range namesOf(idx, d) {
				names = append(names, n)
				repo, _ := splitName(n)
				repos[repo] = true
			}
		}
		if len(repos) > 1 && !force {
			return nil, fmt.Errorf("removing image %q: image is referenced in %d repositories (%s), remove by name or force: %w",
				ref, len(repos), strings.Join(familiar(names), ", "), ErrConflict)
		}
		idx.Manifests = slices.DeleteFunc(idx.Manifests, func(d v1.Descriptor) bool {
			return slices.Contains(m.manifests, d.Digest)
		})
		for _, n := range names {
			out = append(out, "Untagged: "+FamiliarName(n))
		}
		gone = m.manifests
	}
	var ids []v1.Hash
	for _, d := range gone {
		if _, man, err := s.readManifest(d); err == nil && !slices.Contains(ids, man.Config.Digest) {
			ids = append(ids, man.Config.Digest)
		}
	}
	if err := s.writeIndex(idx); err != nil {
		return nil, fmt.Errorf("removing image %q: %w", ref, err)
	}
	for _, id := range ids {
		out = append(out, "Deleted: "+id.String())
	}
	s.dropUnreferenced(idx, gone)
	return out, nil
}

func familiar(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = FamiliarName(n)
	}
	return out
}

// dropUnreferenced deletes the blobs of the removed manifests that no image
// left in idx uses. It is best effort: when any remaining manifest cannot be
// read, nothing is deleted. Callers hold the lock.
func (s *Store) dropUnreferenced(idx *v1.IndexManifest, removed []v1.Hash) {
	keep, err := s.referencedBlobs(idx)
	if err != nil {
		return
	}
	_ = s.exclusive(func(v *lease.View) error {
		for _, d := range removed {
			_, man, err := s.readManifest(d)
			if err != nil {
				continue
			}
			blobs := []v1.Hash{man.Config.Digest, d}
			for _, l := range man.Layers {
				blobs = append(blobs, l.Digest)
			}
			for _, b := range blobs {
				if !keep[b] {
					_ = s.removeBlob(b, v)
				}
			}
		}
		return nil
	})
}
