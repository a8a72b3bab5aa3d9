package image

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// PlatformImage is one platform's image of a build.
type PlatformImage struct {
	Image    v1.Image
	Platform v1.Platform
	// BaseLayers is how many bottom layers came from a base image: an output's compression
	// leaves them as they are unless it forces it (BuildKit applies it to new layers only).
	BaseLayers int
	// Attestations are this image's in-toto predicates (provenance); Compose writes their
	// statements about the final manifest.
	Attestations []Attestation
}

// Artifact is what a build publishes: one image per platform; Multi makes it an index
// even with one platform (BuildKit's multi-platform result).
type Artifact struct {
	Images []PlatformImage
	Multi  bool
}

// Attested reports whether an image of a carries attestations.
func (a Artifact) Attested() bool {
	for _, pi := range a.Images {
		if len(pi.Attestations) > 0 {
			return true
		}
	}
	return false
}

// WithoutAttestations is a without its images' attestations.
func (a Artifact) WithoutAttestations() Artifact {
	out := Artifact{Multi: a.Multi, Images: make([]PlatformImage, len(a.Images))}
	for i, pi := range a.Images {
		pi.Attestations = nil
		out.Images[i] = pi
	}
	return out
}

// ExportOptions are an output's image options (BuildKit's image exporter attributes).
type ExportOptions struct {
	// Names are the output's image names: the subjects of its attestations.
	Names       []string
	Compression Compression
	// DockerTypes is oci-mediatypes=false: docker schema2 media types.
	DockerTypes bool
	Annotations Annotations
}

// Composed is what an output writes: one image, or an index of platform images (and
// their attestation manifests).
type Composed struct {
	Image v1.Image
	Index v1.ImageIndex
	// Descriptor is the top manifest's (or index's) descriptor, with the descriptor
	// annotations an OCI layout's index.json carries.
	Descriptor v1.Descriptor
}

// Compose writes the artifact's manifests the way BuildKit's image exporter does for the
// options o: layers recompressed as asked, media types, annotations, an index when the
// artifact is multi-platform or has attestations. Layer data is read lazily, when the
// result is written.
func Compose(a Artifact, o ExportOptions) (*Composed, error) {
	if len(a.Images) == 0 {
		return nil, fmt.Errorf("composing image: no image")
	}
	if err := o.Check(); err != nil {
		return nil, err
	}
	if err := o.Annotations.checkPlatforms(a.Images); err != nil {
		return nil, err
	}
	if !a.Multi && len(a.Images) == 1 && len(a.Images[0].Attestations) == 0 {
		return composeSingle(a.Images[0], o)
	}
	return composeIndex(a, o)
}

// Check refuses options BuildKit refuses (zstd with docker media types, descriptor
// annotations without OCI types) and compressions hush does not write.
func (o ExportOptions) Check() error {
	if err := o.Compression.check(); err != nil {
		return err
	}
	if o.DockerTypes && o.Compression.Type == "zstd" {
		return fmt.Errorf("exporter option \"compression=zstd\" conflicts with \"oci-mediatypes=false\"")
	}
	a := o.Annotations
	if o.DockerTypes && len(a.Index)+len(a.IndexDescriptor)+len(a.ManifestDescriptor) > 0 {
		return fmt.Errorf("cannot export annotations with \"oci-mediatypes=false\"")
	}
	return nil
}

func composeSingle(pi PlatformImage, o ExportOptions) (*Composed, error) {
	if len(o.Annotations.Index)+len(o.Annotations.IndexDescriptor) > 0 {
		return nil, fmt.Errorf("index annotations not supported for single platform export")
	}
	img, desc, err := convertDescribed(pi, o)
	if err != nil {
		return nil, err
	}
	desc.Annotations = o.Annotations.manifestDescriptor(pi.Platform)
	return &Composed{Image: img, Descriptor: desc}, nil
}

// convertDescribed is convertImage with the new manifest's descriptor.
func convertDescribed(pi PlatformImage, o ExportOptions) (v1.Image, v1.Descriptor, error) {
	img, err := convertImage(pi, o)
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	desc, err := describe(img)
	return img, desc, err
}

// convertImage rewrites pi's manifest for o: its layers in o's compression (new layers, or
// all with Force) and media types, the manifest annotations. The config bytes, and so the
// image ID, stay as they are.
func convertImage(pi PlatformImage, o ExportOptions) (v1.Image, error) {
	m, err := pi.Image.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	rawCfg, err := pi.Image.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	ls, err := pi.Image.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading layers: %w", err)
	}
	mfst := ocispecs.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispecs.MediaTypeImageManifest,
		Config:      ocispecs.Descriptor{MediaType: ocispecs.MediaTypeImageConfig, Digest: digest.FromBytes(rawCfg), Size: int64(len(rawCfg))},
		Annotations: manifestAnnotations(m.Annotations, o.Annotations.manifest(pi.Platform))}
	if o.DockerTypes {
		mfst.MediaType, mfst.Config.MediaType = string(types.DockerManifestSchema2), string(types.DockerConfigJSON)
	}
	out := &composedImage{rawCfg: rawCfg, layers: map[v1.Hash]v1.Layer{}}
	for i, l := range ls {
		nl, err := convertLayer(l, o.Compression, o.DockerTypes, i >= pi.BaseLayers || o.Compression.Force)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i+1, err)
		}
		d, err := layerDescriptor(nl, m.Layers[i].Annotations)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i+1, err)
		}
		mfst.Layers = append(mfst.Layers, d)
		out.layers[v1.Hash{Algorithm: d.Digest.Algorithm().String(), Hex: d.Digest.Encoded()}] = nl
	}
	if out.rawMan, err = json.MarshalIndent(mfst, "", "  "); err != nil {
		return nil, fmt.Errorf("encoding manifest: %w", err)
	}
	out.mt = types.MediaType(mfst.MediaType)
	return partial.CompressedToImage(out)
}

// manifestAnnotations are the image's own manifest annotations (an inline cache's) with
// the output's over them; nil when there are none.
func manifestAnnotations(own, out map[string]string) map[string]string {
	if len(own) == 0 {
		return out
	}
	m := maps.Clone(own)
	maps.Copy(m, out)
	return m
}

// layerDescriptor is the manifest's descriptor of l, keeping the layer's own annotations
// but BuildKit's internal ones.
func layerDescriptor(l v1.Layer, ann map[string]string) (ocispecs.Descriptor, error) {
	d, err := l.Digest()
	if err != nil {
		return ocispecs.Descriptor{}, err
	}
	size, err := l.Size()
	if err != nil {
		return ocispecs.Descriptor{}, err
	}
	mt, err := l.MediaType()
	if err != nil {
		return ocispecs.Descriptor{}, err
	}
	var keep map[string]string
	for k, v := range ann {
		if k == "containerd.io/uncompressed" || k == "buildkit/createdat" {
			continue
		}
		if keep == nil {
			keep = map[string]string{}
		}
		keep[k] = v
	}
	return ocispecs.Descriptor{MediaType: string(mt), Digest: digest.Digest(d.String()), Size: size, Annotations: keep}, nil
}

// describe is the descriptor of a manifest or index: media type, digest and size only,
// as BuildKit writes it.
func describe(m interface {
	RawManifest() ([]byte, error)
	MediaType() (types.MediaType, error)
}) (v1.Descriptor, error) {
	raw, err := m.RawManifest()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("describing manifest: %w", err)
	}
	mt, err := m.MediaType()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("describing manifest: %w", err)
	}
	d, size, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("describing manifest: %w", err)
	}
	return v1.Descriptor{MediaType: mt, Digest: d, Size: size}, nil
}

// composedImage is an image whose manifest Compose wrote.
type composedImage struct {
	rawCfg, rawMan []byte
	mt             types.MediaType
	layers         map[v1.Hash]v1.Layer
}

func (i *composedImage) RawConfigFile() ([]byte, error)      { return i.rawCfg, nil }
func (i *composedImage) RawManifest() ([]byte, error)        { return i.rawMan, nil }
func (i *composedImage) MediaType() (types.MediaType, error) { return i.mt, nil }

func (i *composedImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := i.layers[h]; ok {
		return l, nil
	}
	if h == (v1.Hash{Algorithm: "sha256", Hex: digest.FromBytes(i.rawCfg).Encoded()}) {
		return partial.ConfigLayer(i)
	}
	return nil, fmt.Errorf("reading layer %s: not in manifest", h)
}

// manifest is the manifest annotations for platform p: those for every platform, then
// those naming p.
func (a Annotations) manifest(p v1.Platform) map[string]string {
	return forPlatform(a.Manifest, p)
}

func (a Annotations) manifestDescriptor(p v1.Platform) map[string]string {
	return forPlatform(a.ManifestDescriptor, p)
}

func forPlatform(byPlatform map[string]map[string]string, p v1.Platform) map[string]string {
	var out map[string]string
	for _, key := range []string{"", platformString(p)} {
		if m := byPlatform[key]; len(m) > 0 {
			if out == nil {
				out = map[string]string{}
			}
			maps.Copy(out, m)
		}
	}
	return out
}
