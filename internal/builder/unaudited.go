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
// not audited yet: one file per layer and build ("<digest hex>.<build>", its content the
// diffID; the build is its session's lease ID), written before the layer's cache record and
// removed when that build's audit clears the layer. Two builds that make the same layer
// have an entry each: one clearing its own leaves the other's. A build that fails is
// audited on the way out; one that is killed leaves its entries, and the next sweep purges
// those layers (no later build may reuse them: it may not even have the values to audit
// them for).
type unaudited struct{ dir string }

func openUnaudited(root string) (*unaudited, error) {
	dir := filepath.Join(root, "unaudited")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("opening the unaudited-layer journal: %w", err)
	}
	return &unaudited{dir: dir}, nil
}

// digestHex is digest's hex, or false when digest is not a sha256 digest.
func digestHex(digest string) (string, bool) {
	hex, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(hex) != 64 || strings.ContainsAny(hex, "/.") {
		return "", false
	}
	return hex, true
}

func (u *unaudited) path(digest, build string) (string, bool) {
	hex, ok := digestHex(digest)
	if !ok || build == "" || strings.ContainsAny(build, "/.") {
		return "", false
	}
	return filepath.Join(u.dir, hex+"."+build), true
}

// add journals a layer build committed.
func (u *unaudited) add(digest, diffID, build string) error {
	p, ok := u.path(digest, build)
	if !ok {
		return fmt.Errorf("journaling layer %q of build %q: not a sha256 digest and a build ID", digest, build)
	}
	if err := os.WriteFile(p, []byte(diffID), 0o600); err != nil {
		return fmt.Errorf("journaling layer %s: %w", digest, err)
	}
	return nil
}

// has reports a layer some build journaled.
func (u *unaudited) has(digest string) bool {
	hex, ok := digestHex(digest)
	if !ok {
		return false
	}
	ents, _ := os.ReadDir(u.dir)
	for _, e := range ents {
		if name, _, _ := strings.Cut(e.Name(), "."); name == hex {
			return true
		}
	}
	return false
}

// clear drops build's entry for a layer (its audit cleared it); other builds' stay.
func (u *unaudited) clear(digest, build string) {
	if p, ok := u.path(digest, build); ok {
		os.Remove(p)
	}
}

// sweep purges the journaled layers whose builds died before their audit: their lease
// is no longer live (an entry without a build, from an older hush, counts as dead unless a
// live lease holds its blob).
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
		hex, build, _ := strings.Cut(e.Name(), ".")
		digest := "sha256:" + hex
		if build != "" && s.leases.Live(build) || build == "" && held[lease.BlobRef(digest)] {
			continue
		}
		diffID, err := os.ReadFile(filepath.Join(u.dir, e.Name()))
		if err != nil {
			continue
		}
		if err := purgeFiles(c, s.images, s.snaps, digest, string(diffID)); err != nil && !errors.Is(err, snapshot.ErrInUse) {
			errs = append(errs, err)
			continue
		}
		os.Remove(filepath.Join(u.dir, e.Name()))
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
