package image

import (
	"compress/gzip"
	"fmt"
	"io"
	"sync"

	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Compression is an output's layer compression: BuildKit's compression (gzip, the
// default; zstd; uncompressed), compression-level and force-compression.
type Compression struct {
	Type  string
	Level *int
	Force bool
}

// zstdDefaultLevel is BuildKit's zstd level when none is given (zstd.SpeedDefault).
const zstdDefaultLevel = 3

func (c Compression) check() error {
	switch c.Type {
	case "", "gzip", "uncompressed":
	case "zstd":
	case "estargz", "nydus":
		return fmt.Errorf("compression=%s is not supported by hush (gzip, zstd or uncompressed)", c.Type)
	default:
		return fmt.Errorf("unsupported compression type %s (want gzip, zstd or uncompressed)", c.Type)
	}
	if c.Level != nil && c.Type == "uncompressed" {
		return fmt.Errorf("compression-level does not apply to compression=uncompressed")
	}
	if l := c.Level; l != nil && (*l < 0 || *l > 22 || (c.Type != "zstd" && *l > 9)) {
		return fmt.Errorf("compression-level=%d is out of range (gzip 0-9, zstd 0-22)", *l)
	}
	return nil
}

// kind names a layer media type's compression: gzip, zstd, uncompressed, or "" for a
// type hush does not convert (foreign layers).
func kind(mt types.MediaType) string {
	switch mt {
	case types.OCILayer, types.DockerLayer, types.OCIRestrictedLayer, types.DockerForeignLayer:
		return "gzip"
	case types.OCILayerZStd:
		return "zstd"
	case types.OCIUncompressedLayer, types.DockerUncompressedLayer, types.OCIUncompressedRestrictedLayer:
		return "uncompressed"
	}
	return ""
}

// layerType is the media type of a layer compressed as k, in docker's or OCI's types.
func layerType(k string, docker bool) types.MediaType {
	switch {
	case k == "uncompressed" && docker:
		return types.DockerUncompressedLayer
	case k == "uncompressed":
		return types.OCIUncompressedLayer
	case k == "zstd":
		return types.OCILayerZStd
	case docker:
		return types.DockerLayer
	}
	return types.OCILayer
}

// convertLayer returns l as an output wants it: recompressed when convert and its
// compression (or an explicit level) asks for it, else the same blob under the media type
// of the output's types.
func convertLayer(l v1.Layer, c Compression, docker, convert bool) (v1.Layer, error) {
	mt, err := l.MediaType()
	if err != nil {
		return nil, err
	}
	have := kind(mt)
	if have == "" {
		return l, nil // a foreign layer: its URLs name the blob, keep it as it is
	}
	want := have
	if convert && c.Type != "" {
		want = c.Type
	}
	if want == have && (!convert || c.Level == nil) {
		if t := layerType(have, docker); t != mt {
			return &retypedLayer{Layer: l, mt: t}, nil
		}
		return l, nil
	}
	if want == "uncompressed" {
		return &uncompressedLayer{Layer: l, mt: layerType(want, docker)}, nil
	}
	opts := []tarball.LayerOption{tarball.WithMediaType(layerType(want, docker))}
	if want == "zstd" {
		level := zstdDefaultLevel
		if c.Level != nil {
			level = *c.Level
		}
		opts = append(opts, tarball.WithCompression(compression.ZStd), tarball.WithCompressionLevel(level))
	} else {
		level := gzip.DefaultCompression
		if c.Level != nil {
			level = *c.Level
		}
		opts = append(opts, tarball.WithCompression(compression.GZip), tarball.WithCompressionLevel(level))
	}
	nl, err := tarball.LayerFromOpener(l.Uncompressed, opts...)
	if err != nil {
		return nil, fmt.Errorf("recompressing layer: %w", err)
	}
	return nl, nil
}

// uncompressedLayer is a layer stored as its plain tar: digest and diff ID are one.
type uncompressedLayer struct {
	v1.Layer
	mt   types.MediaType
	once sync.Once
	size int64
	err  error
}

func (l *uncompressedLayer) Digest() (v1.Hash, error)            { return l.Layer.DiffID() }
func (l *uncompressedLayer) Compressed() (io.ReadCloser, error)  { return l.Layer.Uncompressed() }
func (l *uncompressedLayer) MediaType() (types.MediaType, error) { return l.mt, nil }

// Size is the tar's length, counted once.
func (l *uncompressedLayer) Size() (int64, error) {
	l.once.Do(func() {
		rc, err := l.Layer.Uncompressed()
		if err != nil {
			l.err = err
			return
		}
		defer rc.Close()
		l.size, l.err = io.Copy(io.Discard, rc)
	})
	return l.size, l.err
}
