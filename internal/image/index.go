package image

import (
	"bytes"
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hush-build/hush/internal/provenance"
)

// Attestation is an in-toto predicate about one platform image: Compose wraps it in a
// statement whose subject is the image's final manifest (BuildKit's attestation manifest);
// a local or tar output writes it as the file Path (provenance.json) about its files,
// unless it is InlineOnly (image outputs only).
type Attestation struct {
	PredicateType string
	Predicate     []byte // JSON
	Path          string
	InlineOnly    bool
}

// BuildKit's attestation manifest: an OCI artifact in the index, for no platform, that
// names the image manifest it is about.
const (
	attestationArtifactType = "application/vnd.docker.attestation.manifest.v1+json"
	inTotoMediaType         = "application/vnd.in-toto+json"
	refTypeAnnotation       = "vnd.docker.reference.type"
	refDigestAnnotation     = "vnd.docker.reference.digest"
)

// composeIndex writes an index of the artifact's platform images and, after them, each
// one's attestation manifest, as BuildKit's image exporter does.
func composeIndex(a Artifact, o ExportOptions) (*Composed, error) {
	idx := ocispecs.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispecs.MediaTypeImageIndex,
		Annotations: o.Annotations.Index}
	if o.DockerTypes {
		idx.MediaType = string(types.DockerManifestList)
	}
	out := &composedIndex{children: map[v1.Hash]v1.Image{}}
	var atts []ocispecs.Descriptor
	for _, pi := range a.Images {
		img, desc, err := convertDescribed(pi, o)
		if err != nil {
			return nil, err
		}
		out.children[desc.Digest] = img
		idx.Manifests = append(idx.Manifests, ociDescriptor(desc, pi.Platform, o.Annotations.manifestDescriptor(pi.Platform)))
		if len(pi.Attestations) == 0 {
			continue
		}
		if o.DockerTypes {
			return nil, fmt.Errorf("cannot export attestations with \"oci-mediatypes=false\"")
		}
		att, ad, err := attestationManifest(pi, desc, o.Names)
		if err != nil {
			return nil, err
		}
		out.children[ad.Digest] = att
		atts = append(atts, ociDescriptor(ad, v1.Platform{OS: "unknown", Architecture: "unknown"},
			map[string]string{refTypeAnnotation: "attestation-manifest", refDigestAnnotation: desc.Digest.String()}))
	}
	idx.Manifests = append(idx.Manifests, atts...)
	raw, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding index: %w", err)
	}
	out.raw, out.mt = raw, types.MediaType(idx.MediaType)
	d, err := describe(out)
	if err != nil {
		return nil, err
	}
	d.Annotations = o.Annotations.IndexDescriptor
	return &Composed{Index: out, Descriptor: d}, nil
}

// ociDescriptor is a manifest's index entry.
func ociDescriptor(d v1.Descriptor, p v1.Platform, ann map[string]string) ocispecs.Descriptor {
	pl := ocispecPlatform(p)
	return ocispecs.Descriptor{MediaType: string(d.MediaType), Digest: digest.Digest(d.Digest.String()), Size: d.Size,
		Annotations: ann, Platform: &pl}
}

// attestationManifest is BuildKit's OCI artifact manifest holding an image's in-toto
// statements (one layer each), with the image manifest as its subject.
func attestationManifest(pi PlatformImage, target v1.Descriptor, names []string) (v1.Image, v1.Descriptor, error) {
	empty := ocispecs.DescriptorEmptyJSON
	mfst := ocispecs.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispecs.MediaTypeImageManifest,
		ArtifactType: attestationArtifactType, Config: empty,
		Subject: &ocispecs.Descriptor{MediaType: string(target.MediaType), Digest: digest.Digest(target.Digest.String()), Size: target.Size}}
	img := &composedImage{rawCfg: empty.Data, layers: map[v1.Hash]v1.Layer{}, mt: types.OCIManifestSchema1}
	for _, a := range pi.Attestations {
		st, err := provenance.Statement(a.PredicateType, a.Predicate, names, pi.Platform, target.Digest)
		if err != nil {
			return nil, v1.Descriptor{}, fmt.Errorf("writing attestation: %w", err)
		}
		l := static.NewLayer(st, inTotoMediaType)
		d, _ := l.Digest()
		img.layers[d] = l
		mfst.Layers = append(mfst.Layers, ocispecs.Descriptor{MediaType: inTotoMediaType, Digest: digest.Digest(d.String()),
			Size: int64(len(st)), Annotations: map[string]string{"in-toto.io/predicate-type": a.PredicateType}})
	}
	raw, err := json.MarshalIndent(mfst, "", "  ")
	if err != nil {
		return nil, v1.Descriptor{}, fmt.Errorf("encoding attestation manifest: %w", err)
	}
	img.rawMan = raw
	out, err := partial.CompressedToImage(img)
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	d, err := describe(out)
	return out, d, err
}

// composedIndex is an index Compose wrote.
type composedIndex struct {
	raw      []byte
	mt       types.MediaType
	children map[v1.Hash]v1.Image
}

func (i *composedIndex) MediaType() (types.MediaType, error) { return i.mt, nil }
func (i *composedIndex) RawManifest() ([]byte, error)        { return i.raw, nil }

func (i *composedIndex) Digest() (v1.Hash, error) {
	d, _, err := v1.SHA256(bytes.NewReader(i.raw))
	return d, err
}

func (i *composedIndex) Size() (int64, error) { return int64(len(i.raw)), nil }

func (i *composedIndex) IndexManifest() (*v1.IndexManifest, error) {
	return v1.ParseIndexManifest(bytes.NewReader(i.raw))
}

func (i *composedIndex) Image(h v1.Hash) (v1.Image, error) {
	if img, ok := i.children[h]; ok {
		return img, nil
	}
	return nil, fmt.Errorf("index: no manifest %s", h)
}

func (i *composedIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	return nil, fmt.Errorf("index: no index %s", h)
}
