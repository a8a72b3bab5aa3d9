package gc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/hush-build/hush/internal/cache"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/lease"
	"github.com/hush-build/hush/internal/scratch"
)

// Options are a prune's, with buildx's meanings.
type Options struct {
	// All includes what a stored image shares (the cache records and unpacked dirs of its
	// layers; its blobs stay) and records of steps that changed nothing.
	All bool
	// KeepDuration keeps what was used within it (--filter until=).
	KeepDuration time.Duration
	// ReservedSpace, MaxUsedSpace and MinFreeSpace (bytes) make the prune remove least
	// recently used first, only until the cache fits them (BuildKit's rules; --keep-storage
	// is ReservedSpace). All zero: remove every match.
	ReservedSpace, MaxUsedSpace, MinFreeSpace int64
	// ID matches record IDs (--filter id=); nil matches all.
	ID *regexp.Regexp
	// Type is TypeRegular or TypeCacheMount (--filter type=); "" matches both.
	Type string
	// KeepCacheMounts leaves the cache mounts alone (--cache-mounts=false).
	KeepCacheMounts bool
}

// Result is what a prune removed.
type Result struct {
	Records []Record // each with the bytes its removal freed as Size
	Freed   int64
	Blobs   []v1.Hash // layer blobs removed
}

// Prune removes the build cache that matches o and no running build uses, and reports
// each record removed to report (if not nil) as it goes.
func Prune(st Stores, o Options, report func(Record)) (*Result, error) {
	u, err := read(st)
	if err != nil {
		return nil, err
	}
	return prune(st, u, o, report)
}

// prune is Prune on the usage u read before.
func prune(st Stores, u *usage, o Options, report func(Record)) (*Result, error) {
	var total int64
	for _, e := range u.entries {
		total += e.Size
	}
	keep, err := keepBytes(total, st.Trash, o)
	if err != nil {
		return nil, err
	}
	if keep != 0 && total <= keep {
		return &Result{}, nil
	}
	victims, records := o.pick(u.entries, keep != 0, total-keep), o.records(u, keep != 0)
	if len(victims) == 0 && len(records) == 0 {
		return &Result{}, nil
	}
	trash, err := scratch.New(st.Trash)
	if err != nil {
		return nil, err
	}
	defer trash.Remove()
	res := &Result{}
	note := func(r Record, freed int64) {
		r.Size = freed
		res.Records = append(res.Records, r)
		res.Freed += freed
		if report != nil {
			report(r)
		}
	}
	var layers, mounts []*entry
	for _, e := range victims {
		if e.mount != "" {
			mounts = append(mounts, e)
		} else {
			layers = append(layers, e)
		}
	}
	err = removeLayers(st, layers, records, trash, note, res)
	for _, m := range mounts {
		if freed, ok, rerr := removeMount(m, trash); rerr != nil {
			err = errors.Join(err, rerr)
		} else if ok {
			note(m.Record, freed)
		}
	}
	return res, err
}

// pick picks the entries o removes; in size mode the least recently used first, until
// excess bytes are freed.
func (o Options) pick(entries []*entry, sizeMode bool, excess int64) []*entry {
	cutoff := time.Now().Add(-o.KeepDuration)
	var out []*entry
	for _, e := range entries {
		switch {
		case e.InUse, e.Shared && !o.All, e.mount != "" && o.KeepCacheMounts:
		case o.Type != "" && o.Type != e.Type, o.ID != nil && !o.ID.MatchString(e.ID):
		case o.KeepDuration != 0 && e.LastUsedAt != nil && e.LastUsedAt.After(cutoff):
		default:
			out = append(out, e)
		}
	}
	if !sizeMode {
		return out
	}
	sort.SliceStable(out, func(i, j int) bool { return lastUsed(out[i]).Before(lastUsed(out[j])) })
	var n int
	for n < len(out) && excess > 0 {
		excess -= out[n].Size
		n++
	}
	return out[:n]
}

func lastUsed(e *entry) time.Time {
	if e.LastUsedAt == nil {
		return time.Time{}
	}
	return *e.LastUsedAt
}

// records are the records that name no data and go too: those whose blob is gone always,
// those of steps that changed nothing with -a (and its until), never in size mode or when
// the prune selects by ID or type.
func (o Options) records(u *usage, sizeMode bool) []cache.Entry {
	if sizeMode || o.ID != nil || o.Type == TypeCacheMount {
		return nil
	}
	out := append([]cache.Entry(nil), u.stale...)
	if !o.All {
		return out
	}
	cutoff := time.Now().Add(-o.KeepDuration)
	for _, r := range u.empty {
		if o.KeepDuration == 0 || !r.LastUsed.After(cutoff) {
			out = append(out, r)
		}
	}
	return out
}

// removeLayers removes the layer entries and the data-less records inside the store's
// lock and the leases' Exclusive: an entry a build started to hold meanwhile is skipped
// whole; a blob an image uses stays. Unpacked dirs go into trash.
func removeLayers(st Stores, es []*entry, records []cache.Entry, trash *scratch.Dir, note func(Record, int64), res *Result) error {
	if len(es) == 0 && len(records) == 0 {
		return nil
	}
	return st.Images.Collect(func(c *image.Collector) error {
		var errs []error
		for _, r := range records {
			errs = append(errs, st.Cache.Remove(r.Key))
		}
		for _, e := range es {
			freed, err := removeLayer(st, c, e, trash)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if freed >= 0 {
				if e.blob != (v1.Hash{}) && !c.Used(e.blob) {
					res.Blobs = append(res.Blobs, e.blob)
				}
				note(e.Record, freed)
			}
		}
		return errors.Join(errs...)
	})
}

// removeLayer removes one layer entry inside Collect; freed is -1 when a build holds it.
func removeLayer(st Stores, c *image.Collector, e *entry, trash *scratch.Dir) (int64, error) {
	if c.View != nil && (c.View.Held(lease.BlobRef(e.blob.String())) || c.View.Held(lease.LayerRef(e.diffID.String()))) {
		return -1, nil
	}
	var errs []error
	for _, k := range e.keys {
		errs = append(errs, st.Cache.Remove(k))
	}
	var freed int64
	if e.blob != (v1.Hash{}) {
		gone, err := c.RemoveBlob(e.blob)
		errs = append(errs, err)
		if gone {
			freed += e.blobSize
		}
	}
	if e.diffID != (v1.Hash{}) && e.snapSize > 0 {
		gone, err := st.Snapshots.RemoveIn(c.View, e.diffID, trash)
		errs = append(errs, err)
		if gone {
			freed += e.snapSize
		}
	}
	return freed, errors.Join(errs...)
}

// removeMount moves a cache mount no build holds into trash, under its lock so that no
// build starts using it meanwhile (a build waiting for the lock then creates it afresh).
func removeMount(e *entry, trash *scratch.Dir) (freed int64, ok bool, err error) {
	f, err := os.Open(MountLock(e.mount))
	if errors.Is(err, os.ErrNotExist) {
		f, err = os.OpenFile(MountLock(e.mount), os.O_CREATE|os.O_RDWR, 0o600)
	}
	if err != nil {
		return 0, false, fmt.Errorf("locking cache mount %s: %w", e.mount, err)
	}
	defer f.Close()
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		return 0, false, nil // a build uses it
	}
	err = os.Rename(e.mount, filepath.Join(trash.Path(), filepath.Base(e.mount)))
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil && !errors.Is(err, unix.EXDEV) {
		return 0, false, fmt.Errorf("removing cache mount %s: %w", e.mount, err)
	}
	if err != nil {
		if err := os.RemoveAll(e.mount); err != nil {
			return 0, false, fmt.Errorf("removing cache mount %s: %w", e.mount, err)
		}
	}
	return e.Size, true, nil
}
