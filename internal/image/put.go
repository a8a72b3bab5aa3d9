package image

import (
	"bytes"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hush-build/hush/internal/lease"
)

// storeImage is an image read from the store; its layers are blobLayers, so
// DiffIDs come from the config instead of decompressing.
type storeImage struct {
	store    *Store
	manifest *v1.Manifest
	rawMan   []byte
	rawCfg   []byte
	diffIDs  map[v1.Hash]v1.Hash // layer digest -> diffID
}

var _ partial.CompressedImageCore = (*storeImage)(nil)

func (i *storeImage) RawConfigFile() ([]byte, error) { return i.rawCfg, nil }
func (i *storeImage) RawManifest() ([]byte, error)   { return i.rawMan, nil }
func (i *storeImage) MediaType() (types.MediaType, error) {
	if i.manifest.MediaType != "" {
		return i.manifest.MediaType, nil
	}
	return types.OCIManifestSchema1, nil
}

func (i *storeImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == i.manifest.Config.Digest {
		return partial.ConfigLayer(i)
	}
	for _, l := range i.manifest.Layers {
		if l.Digest == h {
			return &blobLayer{path: i.store.blobPath(h), digest: h, diffID: i.diffIDs[h], size: l.Size, mt: l.MediaType}, nil
		}
	}
	return nil, fmt.Errorf("looking up layer %s: not in manifest", h)
}

// image opens the stored image with manifest digest d.
func (s *Store) image(d v1.Hash) (v1.Image, error) {
	rawMan, m, err := s.readManifest(d)
	if err != nil {
		return nil, err
	}
	if !isImageMediaType(m.MediaType) && m.MediaType != "" {
		return nil, fmt.Errorf("opening image %s: manifest media type %q is not an image", d, m.MediaType)
	}
	rawCfg, err := s.readBlob(m.Config.Digest)
	if err != nil {
		return nil, err
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return nil, fmt.Errorf("parsing config %s: %w", m.Config.Digest, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("opening image %s: %d layers but %d diff_ids", d, len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	diffIDs := make(map[v1.Hash]v1.Hash, len(m.Layers))
	for n, l := range m.Layers {
		diffIDs[l.Digest] = cfg.RootFS.DiffIDs[n]
	}
	return partial.CompressedToImage(&storeImage{store: s, manifest: m, rawMan: rawMan, rawCfg: rawCfg, diffIDs: diffIDs})
}

// Put writes img's missing blobs into the store, then atomically points
// each name at it. A name moves off any image that had it; an image left
// without names stays listed as <none>. With no names, img is stored as
// <none> unless it already has names. A digest name ("repo@sha256:…") must
// match img's manifest digest.
func (s *Store) Put(img v1.Image, names ...string) (Entry, error) {
	return s.put(img, names, true)
}

// put is Put; checkDigest false lets a pulled platform image carry the
// digest name of the index it was resolved from (docker's RepoDigests do
// the same).
func (s *Store) put(img v1.Image, names []string, checkDigest bool) (Entry, error) {
	norm, err := normalizeNames(names)
	if err != nil {
		return Entry{}, fmt.Errorf("storing image: %w", err)
	}
	desc, m, _, err := s.writeImageBlobs(img, nil)
	if err != nil {
		return Entry{}, fmt.Errorf("storing image: %w", err)
	}
	if checkDigest {
		if err := checkDigestNames(norm, desc.Digest); err != nil {
			return Entry{}, err
		}
	}

	unlock, err := s.lock()
	if err != nil {
		return Entry{}, fmt.Errorf("storing image: %w", err)
	}
	defer unlock()
	// A concurrent Remove may have dropped shared blobs since we wrote them.
	if err := s.ensureBlobs(img, desc, m); err != nil {
		return Entry{}, fmt.Errorf("storing image: %w", err)
	}
	idx, err := s.readIndex()
	if err != nil {
		return Entry{}, fmt.Errorf("storing image: %w", err)
	}
	idx.Manifests = retag(idx.Manifests, desc, norm)
	if err := s.writeIndex(idx); err != nil {
		return Entry{}, fmt.Errorf("storing image: %w", err)
	}
	e, err := s.entry(idx, desc.Digest)
	if err != nil {
		return Entry{}, fmt.Errorf("storing image: %w", err)
	}
	return e, nil
}

// checkDigestNames refuses a digest name ("repo@sha256:…") other than d.
func checkDigestNames(names []string, d v1.Hash) error {
	for _, n := range names {
		if _, obj := splitName(n); len(obj) > 7 && obj[:7] == "sha256:" && obj != d.String() {
			return fmt.Errorf("storing image as %s: image digest is %s", n, d)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// writeImageBlobs writes layers, config and manifest, skipping blobs the
// store already has, and returns the index descriptor for img and the
// blobs it added (also when it fails part way). With a lease, each blob is
// held before it is looked for or written: a concurrent prune cannot take
// it before the caller names it (Put needs none: it rewrites, under the
// lock, any blob that went missing).
func (s *Store) writeImageBlobs(img v1.Image, hold *lease.Lease) (v1.Descriptor, *v1.Manifest, []v1.Hash, error) {
	var added []v1.Hash
	note := func(d v1.Hash, ok bool) {
		if ok {
			added = append(added, d)
		}
	}
	m, err := img.Manifest()
	if err != nil {
		return v1.Descriptor{}, nil, nil, fmt.Errorf("reading manifest: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return v1.Descriptor{}, nil, nil, fmt.Errorf("reading layers: %w", err)
	}
	if len(layers) != len(m.Layers) {
		return v1.Descriptor{}, nil, nil, fmt.Errorf("reading layers: %d layers but %d in manifest", len(layers), len(m.Layers))
	}
	for n, l := range layers {
		ok, err := s.writeLayer(l, m.Layers[n], hold)
		note(m.Layers[n].Digest, ok)
		if err != nil {
			return v1.Descriptor{}, nil, added, err
		}
	}
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		return v1.Descriptor{}, nil, added, fmt.Errorf("reading config: %w", err)
	}
	ok, err := s.writeBlob(m.Config.Digest, m.Config.Size, bytes.NewReader(rawCfg), hold)
	note(m.Config.Digest, ok)
	if err != nil {
		return v1.Descriptor{}, nil, added, fmt.Errorf("writing config: %w", err)
	}
	desc, rawMan, err := manifestDescriptor(img)
	if err != nil {
		return v1.Descriptor{}, nil, added, err
	}
	ok, err = s.writeBlob(desc.Digest, desc.Size, bytes.NewReader(rawMan), hold)
	note(desc.Digest, ok)
	if err != nil {
		return v1.Descriptor{}, nil, added, fmt.Errorf("writing manifest: %w", err)
	}
	return desc, m, added, nil
}

// manifestDescriptor is the index descriptor of img (digest of its raw
// manifest, media type, platform) and the raw manifest.
func manifestDescriptor(img v1.Image) (v1.Descriptor, []byte, error) {
	rawMan, err := img.RawManifest()
	if err != nil {
		return v1.Descriptor{}, nil, fmt.Errorf("reading manifest: %w", err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, nil, fmt.Errorf("reading media type: %w", err)
	}
	d, size, err := v1.SHA256(bytes.NewReader(rawMan))
	if err != nil {
		return v1.Descriptor{}, nil, fmt.Errorf("hashing manifest: %w", err)
	}
	desc := v1.Descriptor{MediaType: mt, Size: size, Digest: d}
	if cfg, err := img.ConfigFile(); err == nil && cfg.OS != "" {
		desc.Platform = &v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
	}
	return desc, rawMan, nil
}

func (s *Store) writeLayer(l v1.Layer, want v1.Descriptor, hold *lease.Lease) (bool, error) {
	if err := hold.Hold(lease.BlobRef(want.Digest.String())); err != nil {
		return false, err
	}
	if s.hasBlob(want.Digest, want.Size) {
		return false, nil
	}
	rc, err := l.Compressed()
	if err != nil {
		return false, fmt.Errorf("reading layer %s: %w", want.Digest, err)
	}
	defer rc.Close()
	added, err := s.writeBlob(want.Digest, want.Size, rc, hold)
	if err != nil {
		return false, fmt.Errorf("writing layer: %w", err)
	}
	return added, nil
}

// ensureBlobs checks, under the lock, that every blob of img is present and
// rewrites any that is missing.
func (s *Store) ensureBlobs(img v1.Image, desc v1.Descriptor, m *v1.Manifest) error {
	if s.hasBlob(desc.Digest, desc.Size) && s.hasBlob(m.Config.Digest, m.Config.Size) && allLayers(s, m) {
		return nil
	}
	_, _, _, err := s.writeImageBlobs(img, nil)
	return err
}

func allLayers(s *Store, m *v1.Manifest) bool {
	for _, l := range m.Layers {
		if !s.hasBlob(l.Digest, l.Size) {
			return false
		}
	}
	return true
}

// retag points names at desc in an index manifest list: each name leaves
// the descriptor that had it (an image losing its last name keeps one
// unnamed descriptor), and desc gets one descriptor per name, or a single
// unnamed one when it ends up with no names at all.
func retag(in []v1.Descriptor, desc v1.Descriptor, names []string) []v1.Descriptor {
	var out, lost []v1.Descriptor
	for _, d := range in {
		if n := d.Annotations[AnnotationRefName]; n != "" && contains(names, n) {
			lost = append(lost, d)
			continue
		}
		out = append(out, d)
	}
	for _, n := range names {
		nd := desc
		nd.Annotations = map[string]string{AnnotationRefName: n}
		out = append(out, nd)
	}
	for _, d := range lost {
		if d.Digest != desc.Digest && !hasDigest(out, d.Digest) {
			d.Annotations = nil
			out = append(out, d)
		}
	}
	if !hasDigest(out, desc.Digest) {
		out = append(out, desc)
	}
	return dropRedundantUnnamed(out)
}

func hasDigest(ds []v1.Descriptor, d v1.Hash) bool {
	for _, x := range ds {
		if x.Digest == d {
			return true
		}
	}
	return false
}

// dropRedundantUnnamed removes unnamed descriptors of images that also have
// a named one, and duplicate unnamed descriptors (a platform alternate's stays).
func dropRedundantUnnamed(ds []v1.Descriptor) []v1.Descriptor {
	named := map[v1.Hash]bool{}
	for _, d := range ds {
		if d.Annotations[AnnotationRefName] != "" {
			named[d.Digest] = true
		}
	}
	out := ds[:0]
	unnamed := map[v1.Hash]bool{}
	for _, d := range ds {
		if d.Annotations[AnnotationRefName] == "" && d.Annotations[annotationAlternate] == "" {
			if named[d.Digest] || unnamed[d.Digest] {
				continue
			}
			unnamed[d.Digest] = true
		}
		out = append(out, d)
	}
	return out
}
