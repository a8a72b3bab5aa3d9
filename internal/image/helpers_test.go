package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// entry is one tar member for test layers.
type entry struct {
	name     string
	typ      byte // tar.TypeReg when zero
	body     string
	linkname string
	mode     int64
}

func tarBytes(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
			if typ == tar.TypeDir {
				mode = 0o755
			}
		}
		hdr := &tar.Header{Name: e.name, Typeflag: typ, Mode: mode, Linkname: e.linkname, ModTime: time.Unix(1700000000, 0)}
		if typ == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("writing tar header %s: %v", e.name, err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatalf("writing tar body %s: %v", e.name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("closing tar: %v", err)
	}
	return buf.Bytes()
}

func layerOf(t *testing.T, mt types.MediaType, entries ...entry) v1.Layer {
	t.Helper()
	b := tarBytes(t, entries...)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(mt))
	if err != nil {
		t.Fatalf("making layer: %v", err)
	}
	return l
}

// testImage builds an OCI image from layers, each with a history entry, and
// a config whose Author makes the image unique.
func testImage(t *testing.T, author string, layers ...v1.Layer) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for i, l := range layers {
		var err error
		img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: "layer " + string(rune('0'+i)), Created: v1.Time{Time: time.Unix(1700000000+int64(i), 0).UTC()}}})
		if err != nil {
			t.Fatalf("appending layer: %v", err)
		}
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("reading config: %v", err)
	}
	cfg = cfg.DeepCopy()
	cfg.Author, cfg.OS, cfg.Architecture = author, "linux", runtime.GOARCH
	cfg.Created = v1.Time{Time: time.Unix(1700000100, 0).UTC()}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatalf("setting config: %v", err)
	}
	return img
}

func simpleImage(t *testing.T, author string) v1.Image {
	t.Helper()
	return testImage(t, author, layerOf(t, types.OCILayer, entry{name: "etc/", typ: tar.TypeDir}, entry{name: "etc/who", body: author}))
}

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := OpenStore(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	return s
}

func mustDigest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatalf("Digest: %v", err)
	}
	return d
}

func mustConfigName(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.ConfigName()
	if err != nil {
		t.Fatalf("ConfigName: %v", err)
	}
	return d
}

// failingLayer claims valid metadata but fails while its bytes are read,
// like a registry connection dropping mid-blob.
type failingLayer struct{ v1.Layer }

var errMidWrite = errors.New("injected failure mid-layer")

func (l failingLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(io.MultiReader(bytes.NewReader(make([]byte, 100)), errReader{})), nil
}
func (l failingLayer) Uncompressed() (io.ReadCloser, error) { return l.Compressed() }

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errMidWrite }

// dirNames lists the names in dir (sorted).
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("reading %s: %v", dir, err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// mustSingle composes img as an output with default options writes it.
func mustSingle(t testing.TB, img v1.Image) *Composed {
	t.Helper()
	c, err := Single(img)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
