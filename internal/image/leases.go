package image

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/lease"
)

// UseLeases makes the store keep every blob a live lease holds: removing an image a
// running build uses defers the removal of its blobs until that build ends.
func (s *Store) UseLeases(ls *lease.Leases) { s.leases = ls }

// ImageFor is Image, with every blob of the image held by l (if not nil) before the store
// lock is released, so that no removal can slip in between the lookup and the hold.
func (s *Store) ImageFor(ref string, l *lease.Lease) (v1.Image, Entry, error) {
	if l == nil {
		return s.Image(ref)
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, Entry{}, err
	}
	defer unlock()
	img, e, err := s.Image(ref)
	if err != nil {
		return nil, Entry{}, err
	}
	_, man, err := s.readManifest(e.Digest)
	if err != nil {
		return nil, Entry{}, fmt.Errorf("loading image %q: %w", ref, err)
	}
	refs := []string{lease.BlobRef(e.Digest.String()), lease.BlobRef(man.Config.Digest.String())}
	for _, d := range man.Layers {
		refs = append(refs, lease.BlobRef(d.Digest.String()))
	}
	if err := l.Hold(refs...); err != nil {
		return nil, Entry{}, err
	}
	return img, e, nil
}

// HoldBlob holds blob d with l if the store has it, and reports whether it does.
func (s *Store) HoldBlob(l *lease.Lease, d v1.Hash) (bool, error) {
	unlock, err := s.lock()
	if err != nil {
		return false, err
	}
	defer unlock()
	if _, ok := s.Blob(d); !ok {
		return false, nil
	}
	return true, l.Hold(lease.BlobRef(d.String()))
}

// held is the blobs live leases hold (none without leases). Callers hold the store lock.
func (s *Store) held() (map[string]bool, error) {
	if s.leases == nil {
		return map[string]bool{}, nil
	}
	return s.leases.Held()
}

// removeBlob deletes blob d unless a lease holds it; then its removal is deferred until
// the last lease on it ends. Callers hold the store lock and have checked no image uses d.
func (s *Store) removeBlob(d v1.Hash, held map[string]bool) error {
	ref := lease.BlobRef(d.String())
	if held[ref] {
		return s.leases.Defer(ref)
	}
	return removeIfExists(s.blobPath(d))
}

// CollectPending removes the blobs whose removal a lease deferred, once no lease holds
// them and no image uses them.
func (s *Store) CollectPending() error {
	if s.leases == nil {
		return nil
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	refs, err := s.leases.Pending("blob ")
	if err != nil || len(refs) == 0 {
		return err
	}
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	used, err := s.referencedBlobs(idx)
	if err != nil {
		return err
	}
	for _, r := range refs {
		d, err := v1.NewHash(strings.TrimPrefix(r, "blob "))
		if err != nil || used[d] {
			continue
		}
		if err := removeIfExists(s.blobPath(d)); err != nil {
			return err
		}
	}
	return nil
}
