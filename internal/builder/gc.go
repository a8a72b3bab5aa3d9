package builder

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/hush-build/hush/internal/audit"
	"github.com/hush-build/hush/internal/cache"
	"github.com/hush-build/hush/internal/gc"
)

// GCEnv is the environment variable that sets the garbage-collection policy (it wins over
// the state dir's gc.conf); "off" disables it. See gc.ParsePolicy.
const GCEnv = "HUSH_GC"

// LoadGCPolicy reads the policy builds of the state dir root collect garbage with: $HUSH_GC,
// else root/gc.conf, else gc.DefaultPolicy; nil when it is off.
func LoadGCPolicy(root string) (*gc.Policy, error) {
	return gc.LoadPolicy(os.Getenv(GCEnv), filepath.Join(root, "gc.conf"))
}

// gcStores are the state dir's stores as package gc sees them.
func gcStores(root string, s *stores) (gc.Stores, error) {
	c, err := cache.Open(filepath.Join(root, "cache"))
	if err != nil {
		return gc.Stores{}, err
	}
	trash := filepath.Join(root, "tmp")
	if err := os.MkdirAll(trash, 0o700); err != nil {
		return gc.Stores{}, err
	}
	return gc.Stores{Images: s.images, Snapshots: s.snaps, Cache: c, Leases: s.leases,
		CacheMounts: filepath.Join(root, "cachemounts"), Trash: trash, Lock: filepath.Join(root, "gc.lock")}, nil
}

// sweptStores sweeps what dead builds left in the state dir root and opens its stores for
// package gc.
func sweptStores(root string) (gc.Stores, error) {
	s, err := sweep(root)
	if err != nil {
		return gc.Stores{}, err
	}
	return gcStores(root, s)
}

// DiskUsage lists the build cache of the state dir root (hush du), after sweeping what dead
// builds left.
func DiskUsage(root string) ([]gc.Record, error) {
	st, err := sweptStores(root)
	if err != nil {
		return nil, err
	}
	return gc.DiskUsage(st)
}

// Prune removes the build cache of the state dir root that o selects and no running build
// uses (hush prune), after sweeping what dead builds left; report sees each record removed.
// The audit ledger forgets the layers removed.
func Prune(root string, o gc.Options, report func(gc.Record)) (*gc.Result, error) {
	st, err := sweptStores(root)
	if err != nil {
		return nil, err
	}
	res, err := gc.Prune(st, o, report)
	if res != nil {
		err = errors.Join(err, forget(root, res))
	}
	return res, err
}

// forget drops the ledger records of removed layers.
func forget(root string, res *gc.Result) error {
	l, err := audit.OpenLedger(filepath.Join(root, "audited"))
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range res.Blobs {
		errs = append(errs, l.Forget(d.String()))
	}
	return errors.Join(errs...)
}

// collectGarbage runs the builder's policy (after a Run); nil: none.
func (b *Builder) collectGarbage() error {
	if b.gc == nil {
		return nil
	}
	st, err := gcStores(b.root, &stores{images: b.Images, snaps: b.Snapshots, leases: b.leases})
	if err != nil {
		return err
	}
	_, err = gc.Collect(st, *b.gc)
	return err
}
