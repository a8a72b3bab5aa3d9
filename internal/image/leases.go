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

// acquire starts a lease of the store's own (nil without leases), for a transaction that
// writes blobs before an image names them (load, import).
func (s *Store) acquire() (*lease.Lease, error) {
	if s.leases == nil {
		return nil, nil
	}
	return s.leases.Acquire()
}

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

// ImageHeld is Image with every blob held until release is called, for a command that
// reads a stored image's layers (push, audit) while rmi or prune may run.
func (s *Store) ImageHeld(ref string) (img v1.Image, e Entry, release func(), err error) {
	l, err := s.acquire()
	if err != nil {
		return nil, Entry{}, nil, err
	}
	if img, e, err = s.ImageFor(ref, l); err != nil {
		l.Release()
		return nil, Entry{}, nil, err
	}
	return img, e, l.Release, nil
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

// exclusive runs fn inside the leases' Exclusive (v nil without leases). Callers hold the
// store lock; the lease lock is always taken second.
func (s *Store) exclusive(fn func(v *lease.View) error) error {
	if s.leases == nil {
		return fn(nil)
	}
	return s.leases.Exclusive(fn)
}

// removeBlob deletes blob d unless a lease holds it; then its removal is deferred until
// the last lease on it ends. Callers hold the store lock, are inside exclusive and have
// checked no image uses d.
func (s *Store) removeBlob(d v1.Hash, v *lease.View) error {
	ref := lease.BlobRef(d.String())
	if v != nil && v.Held(ref) {
		return v.Defer(ref)
	}
	return removeIfExists(s.blobPath(d))
}

// CollectPending removes the blobs whose removal a lease deferred, once no lease holds
// them and no image uses them.
func (s *Store) CollectPending() error {
	if s.leases == nil {
		return nil
	}
	return s.Collect(func(c *Collector) error {
		refs, err := c.View.Pending("blob ")
		if err != nil {
			return err
		}
		for _, r := range refs {
			d, err := v1.NewHash(strings.TrimPrefix(r, "blob "))
			if err != nil {
				continue
			}
			if _, err := c.RemoveBlob(d); err != nil {
				return err
			}
		}
		return nil
	})
}

// Collector is what Collect hands its function: the store locked (no image is added,
// tagged or removed meanwhile) and, with leases, no lease able to hold anything new.
type Collector struct {
	s    *Store
	used map[v1.Hash]bool
	// View is what live leases hold (nil without leases).
	View *lease.View
}

// Used reports whether an image of the store uses blob d.
func (c *Collector) Used(d v1.Hash) bool { return c.used[d] }

// RemoveBlob deletes blob d unless an image uses it or a lease holds it, and reports
// whether it is gone.
func (c *Collector) RemoveBlob(d v1.Hash) (bool, error) {
	if c.used[d] || (c.View != nil && c.View.Held(lease.BlobRef(d.String()))) {
		return false, nil
	}
	if err := removeIfExists(c.s.blobPath(d)); err != nil {
		return false, fmt.Errorf("removing blob %s: %w", d, err)
	}
	return true, nil
}

// Collect runs fn with the store locked and leases excluded (see Collector), so that what
// fn removes cannot be in use by an image or a build. Keep fn short: builds wait for it.
func (s *Store) Collect(fn func(c *Collector) error) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	used, err := s.referencedBlobs(idx)
	if err != nil {
		return fmt.Errorf("checking blob references: %w", err)
	}
	return s.exclusive(func(v *lease.View) error { return fn(&Collector{s: s, used: used, View: v}) })
}
