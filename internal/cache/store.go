package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Layer names a compressed layer blob in the image store.
type Layer struct {
	Digest    string `json:"digest"`
	DiffID    string `json:"diffID"`
	Size      int64  `json:"size"`
	MediaType string `json:"mediaType"`
}

// Record is what a step produced: a layer, or none (an empty change).
type Record struct {
	Layer   *Layer    `json:"layer,omitempty"`
	Created time.Time `json:"created"`
}

// Store keeps records as small JSON files named by key.
type Store struct {
	dir string
}

// Dir is the directory the records are kept in.
func (s *Store) Dir() string { return s.dir }

// Open opens (creating) the record store at dir.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating cache dir: %w", err)
	}
	return &Store{dir: dir}, nil
}

func (s *Store) path(key string) string {
	return filepath.Join(s.dir, strings.TrimPrefix(key, "sha256:")+".json")
}

// Get returns the record for key, or false when there is none (or it is unreadable).
func (s *Store) Get(key string) (*Record, bool) {
	b, err := os.ReadFile(s.path(key))
	if err != nil {
		return nil, false
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, false
	}
	return &r, true
}

// Put stores the record for key atomically.
func (s *Store) Put(key string, r *Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding cache record: %w", err)
	}
	f, err := os.CreateTemp(s.dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("writing cache record: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("writing cache record: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing cache record: %w", err)
	}
	if err := os.Rename(f.Name(), s.path(key)); err != nil {
		return fmt.Errorf("writing cache record: %w", err)
	}
	return nil
}

// Remove deletes the record for key, if any.
func (s *Store) Remove(key string) error {
	err := os.Remove(s.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// RemoveLayer deletes every record whose layer is the blob digest, so no later build
// reuses it; it returns how many it removed.
func (s *Store) RemoveLayer(digest string) (int, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, fmt.Errorf("reading cache dir: %w", err)
	}
	n := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		key := "sha256:" + strings.TrimSuffix(e.Name(), ".json")
		if r, ok := s.Get(key); ok && r.Layer != nil && r.Layer.Digest == digest {
			if err := s.Remove(key); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// Entry is a stored record with its key and when a build last used it.
type Entry struct {
	Key    string
	Record *Record
	// LastUsed is when the record was written or last reused (Touch).
	LastUsed time.Time
}

// List returns every readable record. Records removed while it reads are left out.
func (s *Store) List() ([]Entry, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("reading cache dir: %w", err)
	}
	var out []Entry
	for _, e := range ents {
		hex, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasPrefix(hex, ".") {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		if r, ok := s.Get("sha256:" + hex); ok {
			out = append(out, Entry{Key: "sha256:" + hex, Record: r, LastUsed: fi.ModTime()})
		}
	}
	return out, nil
}

// Touch records that a build reused the record for key now (the garbage collector keeps
// what was used last).
func (s *Store) Touch(key string) error {
	now := time.Now()
	if err := os.Chtimes(s.path(key), now, now); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("touching cache record: %w", err)
	}
	return nil
}
