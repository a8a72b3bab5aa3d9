package snapshot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Layer is an unpacked layer of the store, for disk usage and pruning.
type Layer struct {
	DiffID v1.Hash
	// Placed is when it was unpacked or committed into the store.
	Placed time.Time
}

// Layers lists the unpacked layers of the store.
func (s *Store) Layers() ([]Layer, error) {
	ents, err := os.ReadDir(filepath.Join(s.root, layersDir))
	if err != nil {
		return nil, fmt.Errorf("listing layers: %w", err)
	}
	var out []Layer
	for _, e := range ents {
		d := v1.Hash{Algorithm: "sha256", Hex: e.Name()}
		if _, err := s.layerPath(d); err != nil || !e.IsDir() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		placed := fi.ModTime()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			placed = time.Unix(st.Ctim.Unix()) // the rename into the store; mtime is the layer's
		}
		out = append(out, Layer{DiffID: d, Placed: placed})
	}
	return out, nil
}

func (s *Store) sizePath(hex string) string { return filepath.Join(s.root, sizesDir, hex) }

// Size is the disk space the unpacked layer diffID takes (its files' blocks, a hard link
// counted once). An unpacked layer never changes, so it is measured once and recorded.
func (s *Store) Size(diffID v1.Hash) (int64, error) {
	p, err := s.layerPath(diffID)
	if err != nil {
		return 0, err
	}
	if b, err := os.ReadFile(s.sizePath(diffID.Hex)); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			return n, nil
		}
	}
	before, err := os.Lstat(p)
	if err != nil {
		return 0, fmt.Errorf("measuring layer %s: %w", diffID, err)
	}
	n, err := DiskUsage(p)
	if err != nil {
		return 0, fmt.Errorf("measuring layer %s: %w", diffID, err)
	}
	if after, err := os.Lstat(p); err != nil || !os.SameFile(before, after) {
		return n, nil // removed while measured: the count may be short, do not record it
	}
	tmp, err := os.CreateTemp(filepath.Join(s.root, sizesDir), ".tmp-*")
	if err == nil {
		_, werr := tmp.WriteString(strconv.FormatInt(n, 10))
		if cerr := tmp.Close(); werr == nil && cerr == nil {
			_ = os.Rename(tmp.Name(), s.sizePath(diffID.Hex))
		}
		os.Remove(tmp.Name())
	}
	return n, nil
}

// DiskUsage is the disk space of the tree at root, as du counts it (allocated blocks,
// every hard-linked inode once). Entries removed while it walks are skipped; a missing
// root is an error.
func DiskUsage(root string) (int64, error) {
	seen := map[[2]uint64]bool{}
	var n int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p != root {
				return nil
			}
			return err
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			n += fi.Size()
			return nil
		}
		id := [2]uint64{st.Dev, st.Ino}
		if st.Nlink > 1 && seen[id] {
			return nil
		}
		seen[id] = true
		n += st.Blocks * 512
		return nil
	})
	return n, err
}
