package remotecache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// artifact is the cache manifest as a v1.Image: config = the Config, layers = the images'
// own layer blobs.
type artifact struct {
	rawConfig   []byte
	rawManifest []byte
	manifest    *v1.Manifest
	layers      map[v1.Hash]v1.Layer
	ordered     []v1.Layer // the layers in the manifest's order
}

// newArtifact makes the cache manifest of entries: an OCI manifest with ArtifactType, or
// (oci false) a Docker schema 2 one, for registries that refuse OCI manifests. Each layer
// is offered for a cross-repository mount from mountFrom's first repository on the same
// registry (the image the build pushed), so a registry is not sent a blob it holds.
func newArtifact(entries []Entry, oci bool, mountFrom []name.Reference) (*artifact, *Config, error) {
	cfg, layers, err := newConfig(entries)
	if err != nil {
		return nil, nil, err
	}
	rawCfg, err := json.Marshal(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding the cache config: %w", err)
	}
	m := &v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: ArtifactType,
		Config: v1.Descriptor{MediaType: ConfigMediaType, Size: int64(len(rawCfg)), Digest: sha256Hash(rawCfg)}}
	layerType := types.OCILayer
	if !oci {
		m.MediaType, m.ArtifactType, layerType = types.DockerManifestSchema2, "", types.DockerLayer
	}
	a := &artifact{rawConfig: rawCfg, manifest: m, layers: map[v1.Hash]v1.Layer{}}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return nil, nil, err
		}
		size, err := l.Size()
		if err != nil {
			return nil, nil, err
		}
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: layerType, Size: size, Digest: d})
		var ml v1.Layer = &typedLayer{Layer: l, mt: layerType}
		if len(mountFrom) > 0 {
			ml = &remote.MountableLayer{Layer: ml, Reference: mountFrom[0]}
		}
		a.layers[d] = ml
		a.ordered = append(a.ordered, ml)
	}
	if m.Layers == nil {
		m.Layers = []v1.Descriptor{}
	}
	if a.rawManifest, err = json.Marshal(m); err != nil {
		return nil, nil, fmt.Errorf("encoding the cache manifest: %w", err)
	}
	return a, cfg, nil
}

// image is the artifact as a v1.Image, for a registry push or a layout. Its Layers are
// the artifact's own (a push sees a MountableLayer as such; partial would wrap it).
func (a *artifact) image() (v1.Image, error) {
	img, err := partial.CompressedToImage(a)
	if err != nil {
		return nil, err
	}
	return &layeredImage{Image: img, layers: a.ordered}, nil
}

type layeredImage struct {
	v1.Image
	layers []v1.Layer
}

func (i *layeredImage) Layers() ([]v1.Layer, error) { return i.layers, nil }

func (a *artifact) RawConfigFile() ([]byte, error) { return a.rawConfig, nil }
func (a *artifact) RawManifest() ([]byte, error)   { return a.rawManifest, nil }
func (a *artifact) MediaType() (types.MediaType, error) {
	return a.manifest.MediaType, nil
}

func (a *artifact) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == a.manifest.Config.Digest {
		return partial.ConfigLayer(a)
	}
	if l, ok := a.layers[h]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("blob %s is not in the cache manifest", h)
}

// typedLayer is a layer described under the cache manifest's layer media type.
type typedLayer struct {
	v1.Layer
	mt types.MediaType
}

func (l *typedLayer) MediaType() (types.MediaType, error) { return l.mt, nil }

func sha256Hash(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}
