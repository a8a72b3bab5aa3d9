package image

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// sizesFile remembers each layer's content size by diff ID, so that `hush images` reads a
// layer once, not at every listing.
const sizesFile = "layer-sizes.json"

// LayerSizes reports layers' sizes the way docker does: the bytes of the files in a layer
// (the sum of its tar entries' sizes), which is what docker images and docker history
// show. Sizes are read once per layer and remembered in the store.
type LayerSizes struct {
	s       *Store
	known   map[string]int64
	changed bool
}

// LayerSizes opens the store's remembered layer sizes; Save writes back new ones.
func (s *Store) LayerSizes() *LayerSizes {
	ls := &LayerSizes{s: s, known: map[string]int64{}}
	if b, err := os.ReadFile(filepath.Join(s.dir, sizesFile)); err == nil {
		_ = json.Unmarshal(b, &ls.known) // a damaged file is read past: sizes are recomputed
	}
	return ls
}

// Of is l's content size.
func (ls *LayerSizes) Of(l v1.Layer) (int64, error) {
	d, err := l.DiffID()
	if err != nil {
		return 0, err
	}
	if n, ok := ls.known[d.String()]; ok {
		return n, nil
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return 0, fmt.Errorf("sizing layer %s: %w", d, err)
	}
	defer rc.Close()
	n, err := contentSize(rc)
	if err != nil {
		return 0, fmt.Errorf("sizing layer %s: %w", d, err)
	}
	ls.known[d.String()], ls.changed = n, true
	return n, nil
}

// Image is the content size of img: its layers' sizes added up.
func (ls *LayerSizes) Image(img v1.Image) (int64, error) {
	layers, err := img.Layers()
	if err != nil {
		return 0, err
	}
	var total int64
	for _, l := range layers {
		n, err := ls.Of(l)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// Save writes the sizes learnt since LayerSizes, atomically; failing to remember them
// only costs reading the layers again.
func (ls *LayerSizes) Save() {
	if !ls.changed {
		return
	}
	if b, err := json.Marshal(ls.known); err == nil {
		_ = writeFileAtomic(filepath.Join(ls.s.dir, sizesFile), b)
	}
}

// contentSize adds up the sizes of a tar's entries (docker's layer size).
func contentSize(r io.Reader) (int64, error) {
	tr := tar.NewReader(r)
	var n int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n += h.Size
	}
}
