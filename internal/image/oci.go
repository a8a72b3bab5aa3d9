package image

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Single composes one image with an output's default options (OCI media types, the
// layers as they are): what an OCI layout or archive of a plain image holds.
func Single(img v1.Image) (*Composed, error) {
	return Compose(Artifact{Images: []PlatformImage{{Image: img}}}, ExportOptions{})
}

// retypedLayer is a layer reported under another media type.
type retypedLayer struct {
	v1.Layer
	mt types.MediaType
}

func (l *retypedLayer) MediaType() (types.MediaType, error) { return l.mt, nil }
