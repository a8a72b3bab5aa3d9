package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"

	"github.com/hush-build/hush/internal/audit"
	"github.com/hush-build/hush/internal/cache"
	"github.com/hush-build/hush/internal/executor"
	"github.com/hush-build/hush/internal/gc"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/lease"
	"github.com/hush-build/hush/internal/registry"
	"github.com/hush-build/hush/internal/scratch"
	"github.com/hush-build/hush/internal/secret"
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

// sweepUnaudited purges the layers dead builds committed with secret values and never
// audited.
func sweepUnaudited(root string, s *stores) error {
	u, err := openUnaudited(root)
	if err != nil {
		return err
	}
	c, err := cache.Open(filepath.Join(root, "cache"))
	if err != nil {
		return err
	}
	return u.sweep(s, c)
}

func sweep(root string) (*stores, error) {
	s, err := openStores(root)
	if err != nil {
		return nil, err
	}
	err = errors.Join(
		snapshot.Prune(filepath.Join(root, "snapshots")),
		scratch.Sweep(filepath.Join(root, "tmp"), nil),
		sweepUnaudited(root, s),
		s.images.CollectPending(),
		s.snaps.CollectPending(),
	)
	return s, err
}

// Config is how a Builder runs steps.
type Config struct {
	// Runtime is "crun", "runc", or "" for crun when installed, else runc.
	Runtime string
	// GC is the garbage collection run after each Run (LoadGCPolicy); nil: none.
	GC *gc.Policy
}

// Open opens the state dir root for builds (or image runs): its stores and cache, the
// runtime, the keys and the audit ledger, a scratch dir and a lease of the builder's own
// (each Run makes a session with its own); Close releases them. Several processes, and
// several Runs of one Builder, share the state dir at once. Its layout is the builder's
// alone:
//
//	store/        OCI layout: tagged images and every layer blob (index.json.lock)
//	snapshots/    unpacked layers (overlay lowers), their sizes, workspaces
//	cache/        step cache records (mtime: last use)
//	audited/      the audit ledger (lock: its flock)
//	cachemounts/  RUN --mount=type=cache dirs, NAME.lock each (id, last use)
//	leases/       running builds' holds (*.lease), gc.lock, pending/ removals
//	tmp/          scratch dirs of running Runs, builders, prunes (flocked)
//	unaudited/    layers built with secret values and not audited yet, per build
//	run/          a tmpfs in the build's mount namespace (bundles, secrets)
//	keys/         the fingerprint key (0600)
//	gc.conf       the garbage-collection policy (optional; $HUSH_GC wins)
//	gc.lock       held by the one collection running
func Open(root string, cfg Config) (*Builder, error) {
	runtime := func(runDir string) (executor.Runtime, error) { return executor.New(cfg.Runtime, runDir) }
	mounts, err := detectMounts(root)
	if err != nil {
		return nil, err
	}
	b, err := open(root, runtime, mounts)
	if err != nil {
		return nil, err
	}
	b.gc = cfg.GC
	return b, nil
}

// open is Open with the parts that run steps and need root given: the OCI runtime (made
// for the run dir) and the overlay mounts. The package's tests give in-process ones.
func open(root string, runtime func(runDir string) (executor.Runtime, error), mounts mounter) (*Builder, error) {
	s, err := sweep(root)
	if err != nil {
		return nil, err
	}
	b := &Builder{root: root, Images: s.images, Snapshots: s.snaps, leases: s.leases, RunDir: filepath.Join(root, "run"),
		CacheMountDir: filepath.Join(root, "cachemounts"),
		Sums:          LoadSumCache(filepath.Join(root, "contentsums.json")), mounts: mounts}
	if b.Cache, err = cache.Open(filepath.Join(root, "cache")); err != nil {
		return nil, err
	}
	if b.Runtime, err = runtime(b.RunDir); err != nil {
		return nil, err
	}
	if b.Fingerprints, err = secret.LoadFingerprintKey(filepath.Join(root, "keys", "fingerprint")); err != nil {
		return nil, err
	}
	if b.Audited, err = audit.OpenLedger(filepath.Join(root, "audited")); err != nil {
		return nil, err
	}
	b.ledgerKey = ledgerKey(root)
	if b.unaudited, err = openUnaudited(root); err != nil {
		return nil, err
	}
	if b.scratch, err = scratch.New(filepath.Join(root, "tmp")); err != nil {
		return nil, err
	}
	b.TmpDir = b.scratch.Path()
	if b.Lease, err = s.leases.Acquire(); err != nil {
		b.scratch.Remove()
		return nil, err
	}
	return b, nil
}

// Close ends the builder's lease, finishes the removals it deferred and removes its
// scratch dir.
func (b *Builder) Close() error {
	b.Lease.Release()
	return errors.Join(b.Images.CollectPending(), b.Snapshots.CollectPending(), b.scratch.Remove())
}

// EnterNamespace runs the current command again inside hush's private mount and PID
// namespaces (executor.Reexec) unless it already runs there. In the parent it returns
// handled=true with the child's exit code; in the child it prepares the namespace under
// the state dir root and returns handled=false.
func EnterNamespace(root string) (handled bool, code int, err error) {
	if !executor.InPrivateNS() {
		code, err := executor.Reexec(root)
		return true, code, err
	}
	return false, 0, executor.PrepareNS(filepath.Join(root, "run"))
}

// Root is the state dir the builder opened.
func (b *Builder) Root() string { return b.root }

// ledgerKey is the key of the audit ledger's fingerprints: kept on a tmpfs only, so a copy
// of the state dir cannot check guesses of secret values against the ledger; after a reboot
// the ledger is simply read past once. nil (no tmpfs): every audit reads every layer.
func ledgerKey(root string) *secret.FingerprintKey {
	dir := os.Getenv(registry.TmpfsDirEnv)
	if dir == "" {
		dir = registry.DefaultGeneratorDir
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256([]byte(abs))
	k, err := secret.LoadTmpfsKey(dir, "ledger-"+hex.EncodeToString(sum[:8]))
	if err != nil {
		return nil
	}
	return k
}
