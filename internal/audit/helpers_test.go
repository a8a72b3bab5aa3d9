package audit

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// file is one tar entry of a test layer.
type file struct {
	name    string
	content []byte
	link    string // symlink target
}

func tarOf(t testing.TB, files ...file) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.content)), Typeflag: tar.TypeReg}
		if f.link != "" {
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, f.link, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("writing tar header: %v", err)
		}
		if _, err := tw.Write(f.content); err != nil {
			t.Fatalf("writing tar: %v", err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("closing tar: %v", err)
	}
	return buf.Bytes()
}

// layerOf makes a layer of files compressed with comp: "gzip", "zstd" or "none".
func layerOf(t testing.TB, comp string, files ...file) v1.Layer {
	t.Helper()
	b := tarOf(t, files...)
	if comp == "none" {
		return static.NewLayer(b, types.OCIUncompressedLayer)
	}
	opener := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	var opts []tarball.LayerOption
	if comp == "zstd" {
		opts = append(opts, tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd))
	}
	l, err := tarball.LayerFromOpener(opener, opts...)
	if err != nil {
		t.Fatalf("making %s layer: %v", comp, err)
	}
	return l
}

// imageOf appends layers to an empty image and applies edit to its config.
func imageOf(t testing.TB, edit func(*v1.ConfigFile), layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatalf("appending layers: %v", err)
	}
	if edit != nil {
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatalf("reading config: %v", err)
		}
		cf = cf.DeepCopy()
		edit(cf)
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatalf("setting config: %v", err)
		}
	}
	return img
}

func scan(t testing.TB, img v1.Image, secrets map[string][]byte, opts Options) *Report {
	t.Helper()
	if opts.FingerprintKey == nil {
		opts.FingerprintKey = bytes.Repeat([]byte{7}, 32)
	}
	r, err := Scan(context.Background(), img, secrets, opts)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return r
}

// jsonEscape is a JSON string's escaped body, as config JSON would hold the value.
func jsonEscape(v []byte, html bool) []byte {
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(html)
	if err := e.Encode(string(v)); err != nil {
		return nil
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return b[1 : len(b)-1]
}
