package image

import (
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ociMediaTypes maps docker schema2 media types to their OCI equivalents.
var ociMediaTypes = map[types.MediaType]types.MediaType{
	types.DockerManifestSchema2:          types.OCIManifestSchema1,
	types.DockerConfigJSON:               types.OCIConfigJSON,
	types.DockerLayer:                    types.OCILayer,
	types.DockerForeignLayer:             types.OCIRestrictedLayer,
	types.DockerUncompressedLayer:        types.OCIUncompressedLayer,
	types.DockerManifestList:             types.OCIImageIndex,
	types.DockerPluginConfig:             types.DockerPluginConfig,
	types.OCIManifestSchema1:             types.OCIManifestSchema1,
	types.OCIConfigJSON:                  types.OCIConfigJSON,
	types.OCILayer:                       types.OCILayer,
	types.OCILayerZStd:                   types.OCILayerZStd,
	types.OCIUncompressedLayer:           types.OCIUncompressedLayer,
	types.OCIRestrictedLayer:             types.OCIRestrictedLayer,
	types.OCIUncompressedRestrictedLayer: types.OCIUncompressedRestrictedLayer,
}

func toOCIMediaType(mt types.MediaType) types.MediaType {
	if o, ok := ociMediaTypes[mt]; ok {
		return o
	}
	return mt
}

// toOCI returns img with OCI media types (manifest, config, layers), which
// OCI tools such as umoci require. The config bytes, and so the image ID,
// are unchanged; an image that already is OCI is returned as is.
func toOCI(img v1.Image) (v1.Image, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, fmt.Errorf("reading media type: %w", err)
	}
	converted := *m
	converted.MediaType = types.OCIManifestSchema1
	converted.Config.MediaType = toOCIMediaType(m.Config.MediaType)
	converted.Layers = make([]v1.Descriptor, len(m.Layers))
	same := mt == types.OCIManifestSchema1 && m.MediaType == types.OCIManifestSchema1 && converted.Config.MediaType == m.Config.MediaType
	for i, l := range m.Layers {
		l.MediaType = toOCIMediaType(l.MediaType)
		same = same && l.MediaType == m.Layers[i].MediaType
		converted.Layers[i] = l
	}
	if same {
		return img, nil
	}
	raw, err := json.Marshal(&converted)
	if err != nil {
		return nil, fmt.Errorf("encoding OCI manifest: %w", err)
	}
	return partial.CompressedToImage(&ociImage{base: img, manifest: &converted, raw: raw})
}

type ociImage struct {
	base     v1.Image
	manifest *v1.Manifest
	raw      []byte
}

func (i *ociImage) RawConfigFile() ([]byte, error)      { return i.base.RawConfigFile() }
func (i *ociImage) RawManifest() ([]byte, error)        { return i.raw, nil }
func (i *ociImage) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

func (i *ociImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == i.manifest.Config.Digest {
		return partial.ConfigLayer(i)
	}
	for _, d := range i.manifest.Layers {
		if d.Digest == h {
			l, err := i.base.LayerByDigest(h)
			if err != nil {
				return nil, fmt.Errorf("reading layer %s: %w", h, err)
			}
			return &retypedLayer{Layer: l, mt: d.MediaType}, nil
		}
	}
	return nil, fmt.Errorf("reading layer %s: not in manifest", h)
}

// retypedLayer is a layer reported under another media type.
type retypedLayer struct {
	v1.Layer
	mt types.MediaType
}

func (l *retypedLayer) MediaType() (types.MediaType, error) { return l.mt, nil }
