package builder

import (
	"errors"
	"path/filepath"

	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/lease"
	"github.com/hush-build/hush/internal/scratch"
	"github.com/hush-build/hush/internal/snapshot"
)

// stores are the image and snapshot stores of a state dir, with the builds' leases wired
// in, so that nothing a running build holds is removed under it.
type stores struct {
	images *image.Store
	snaps  *snapshot.Store
	leases *lease.Leases
}

func openStores(root string) (*stores, error) {
	leases, err := lease.Open(filepath.Join(root, "leases"))
	if err != nil {
		return nil, err
	}
	images, err := image.OpenStore(filepath.Join(root, "store"))
	if err != nil {
		return nil, err
	}
	snaps, err := snapshot.Open(filepath.Join(root, "snapshots"))
	if err != nil {
		return nil, err
	}
	images.UseLeases(leases)
	snaps.UseLeases(leases)
	return &stores{images: images, snaps: snaps, leases: leases}, nil
}

// OpenStore opens the image store of the state dir root for a command that reads or
// changes it (images, rmi, load, push…), after sweeping what dead builds left (Sweep).
func OpenStore(root string) (*image.Store, error) {
	s, err := sweep(root)
	if err != nil {
		return nil, err
	}
	return s.images, nil
}

// Sweep removes what builds that died (kill -9, a crash) left in the state dir root: their
// workspaces (an upper dir may hold a file a step wrote, a secret included), unfinished
// layer unpacks and scratch dirs, and finishes removals a build's lease deferred. Live
// builds' dirs are held by locks and left alone. Every hush command that opens the store
// calls it first.
func Sweep(root string) error {
	_, err := sweep(root)
	return err
}

func sweep(root string) (*stores, error) {
	s, err := openStores(root)
	if err != nil {
		return nil, err
	}
	err = errors.Join(
		snapshot.Prune(filepath.Join(root, "snapshots")),
		scratch.Sweep(filepath.Join(root, "tmp"), nil),
		s.images.CollectPending(),
		s.snaps.CollectPending(),
	)
	return s, err
}

// Open completes b with the stores of the state dir root (after a Sweep) and a lease for
// the build; Close ends it.
func Open(root string, b Builder) (*Builder, error) {
	s, err := sweep(root)
	if err != nil {
		return nil, err
	}
	l, err := s.leases.Acquire()
	if err != nil {
		return nil, err
	}
	b.Images, b.Snapshots, b.Lease = s.images, s.snaps, l
	b.Resolver = &image.Resolver{Store: s.images, Lease: l}
	return &b, nil
}
