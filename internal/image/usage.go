package image

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BlobInfo describes one blob file of the store.
type BlobInfo struct {
	Digest   v1.Hash
	Size     int64
	Modified time.Time
}

// Blobs lists the store's blobs.
func (s *Store) Blobs() ([]BlobInfo, error) {
	dir := filepath.Join(s.dir, "blobs", "sha256")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing blobs: %w", err)
	}
	var out []BlobInfo
	for _, e := range ents {
		if !e.Type().IsRegular() || len(e.Name()) != 64 || !isHex(e.Name()) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, BlobInfo{Digest: v1.Hash{Algorithm: "sha256", Hex: e.Name()}, Size: fi.Size(), Modified: fi.ModTime()})
	}
	return out, nil
}

// Uses is what the stored images use: every blob (manifest, config, layer) and, by
// diffID, the layer blob of every image layer.
type Uses struct {
	Blobs  map[v1.Hash]bool
	Layers map[v1.Hash]v1.Hash // diffID -> layer digest
}

// Uses reads what the stored images use, under the store lock (an rmi meanwhile would
// take blobs it reads).
func (s *Store) Uses() (*Uses, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	u := &Uses{Blobs: map[v1.Hash]bool{}, Layers: map[v1.Hash]v1.Hash{}}
	for _, desc := range idx.Manifests {
		u.Blobs[desc.Digest] = true
		_, man, err := s.readManifest(desc.Digest)
		if err != nil {
			return nil, err
		}
		u.Blobs[man.Config.Digest] = true
		raw, err := s.readBlob(man.Config.Digest)
		if err != nil {
			return nil, err
		}
		cfg, err := v1.ParseConfigFile(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("parsing config %s: %w", man.Config.Digest, err)
		}
		for i, l := range man.Layers {
			u.Blobs[l.Digest] = true
			if i < len(cfg.RootFS.DiffIDs) {
				u.Layers[cfg.RootFS.DiffIDs[i]] = l.Digest
			}
		}
	}
	return u, nil
}
