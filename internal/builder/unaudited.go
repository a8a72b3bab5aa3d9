package builder

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/cache"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/lease"
	"github.com/hush-build/hush/internal/snapshot"
)

// unaudited is the journal of layers committed by builds that had secret values and were
// not audited yet: one file per layer digest (its content the diffID), written before the
// layer's cache record, removed when the build's audit clears the layer. A build that
// fails is audited on the way out; one that is killed leaves its entries, and the next
// sweep purges those layers (no later build may reuse them: it may not even have the values
// to audit them for).
type unaudited struct{ dir string }

func openUnaudited(root string) (*unaudited, error) {
	dir := filepath.Join(root, "unaudited")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("opening the unaudited-layer journal: %w", err)
	}
	return &unaudited{dir: dir}, nil
}

func (u *unaudited) path(digest string) (string, bool) {
	hex, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(hex) != 64 || strings.ContainsAny(hex, "/.") {
		return "", false
	}
	return filepath.Join(u.dir, hex), true
}

// add journals a committed layer.
func (u *unaudited) add(digest, diffID string) error {
	p, ok := u.path(digest)
	if !ok {
		return fmt.Errorf("journaling layer %q: not a sha256 digest", digest)
	}
	if err := os.WriteFile(p, []byte(diffID), 0o600); err != nil {
		return fmt.Errorf("journaling layer %s: %w", digest, err)
	}
	return nil
}

// has reports a journaled layer.
func (u *unaudited) has(digest string) bool {
	p, ok := u.path(digest)
	if !ok {
		return false
	}
	_, err := os.Lstat(p)
	return err == nil
}

// clear drops a layer from the journal (it was audited).
func (u *unaudited) clear(digest string) {
	if p, ok := u.path(digest); ok {
		os.Remove(p)
	}
}

// sweep purges the journaled layers no live build holds: their builds died before their
// audit.
func (u *unaudited) sweep(s *stores, c *cache.Store) error {
	ents, err := os.ReadDir(u.dir)
	if err != nil {
		return fmt.Errorf("reading the unaudited-layer journal: %w", err)
	}
	if len(ents) == 0 {
		return nil
	}
	held, err := s.leases.Held()
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		digest := "sha256:" + e.Name()
		if held[lease.BlobRef(digest)] {
			continue
		}
		diffID, err := os.ReadFile(filepath.Join(u.dir, e.Name()))
		if err != nil {
			continue
		}
		if err := purgeFiles(c, s.images, s.snaps, digest, string(diffID)); err != nil {
			errs = append(errs, err)
			continue
		}
		u.clear(digest)
	}
	return errors.Join(errs...)
}

// purgeFiles removes a layer from the cache records, the blob store (unless a tagged image
// uses it) and the snapshots.
func purgeFiles(c *cache.Store, images *image.Store, snaps *snapshot.Store, digest, diffID string) error {
	var errs []error
	if _, err := c.RemoveLayer(digest); err != nil {
		errs = append(errs, err)
	}
	d, err := v1.NewHash(digest)
	if err == nil {
		err = images.RemoveBlobIfUnused(d)
	}
	if err != nil {
		errs = append(errs, err)
	}
	if diff, err := v1.NewHash(diffID); err == nil {
		if err := snaps.Remove(diff); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
