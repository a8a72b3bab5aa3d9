package gc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/hush-build/hush/internal/cache"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/lease"
	"github.com/hush-build/hush/internal/snapshot"
)

// Record types, BuildKit's names.
const (
	TypeRegular    = "regular"
	TypeCacheMount = "exec.cachemount"
)

// Stores are the parts of a state dir the build cache lives in.
type Stores struct {
	Images    *image.Store
	Snapshots *snapshot.Store
	Cache     *cache.Store
	Leases    *lease.Leases
	// CacheMounts is the dir of RUN --mount=type=cache dirs: NAME, locked by builds
	// through NAME.lock (MountLock), whose content is the mount's id.
	CacheMounts string
	// Trash is a dir, on the filesystem of the others, whose flocked subdirs the next sweep
	// removes when their owner died: removals are renamed into one first.
	Trash string
	// Lock is the file one collection at a time holds (Collect skips when it is taken).
	Lock string
}

// MountLock is the lock file of the cache mount dir: builds hold it shared while they use
// the dir (exclusive for sharing=locked), and it records the mount's id and last use.
func MountLock(dir string) string { return dir + ".lock" }

// Record is one item of the build cache, as `docker buildx du` shows one.
type Record struct {
	ID          string
	Type        string
	Size        int64
	Shared      bool // a stored image uses it (its blob stays whatever is pruned)
	InUse       bool // a running build holds it
	Mutable     bool // a cache mount
	CreatedAt   time.Time
	LastUsedAt  *time.Time
	Description string
}

// entry is a Record with what it stands for.
type entry struct {
	Record
	blob     v1.Hash  // compressed layer (zero: none)
	blobSize int64    // 0 when the store lacks the blob
	diffID   v1.Hash  // unpacked layer (zero: unknown)
	snapSize int64    // 0 when not unpacked
	keys     []string // cache records naming the layer
	mount    string   // cache mount dir
}

// usage is the whole build cache, with the records that name no data: empty-layer
// records (kept unless -a) and records whose blob is gone (always dropped).
type usage struct {
	entries []*entry
	empty   []cache.Entry
	stale   []cache.Entry
}

// DiskUsage lists the build cache, largest first.
func DiskUsage(st Stores) ([]Record, error) {
	u, err := read(st)
	if err != nil {
		return nil, err
	}
	out := make([]Record, len(u.entries))
	for i, e := range u.entries {
		out[i] = e.Record
	}
	return out, nil
}

// read gathers the build cache from the stores.
func read(st Stores) (*usage, error) {
	uses, err := st.Images.Uses()
	if err != nil {
		return nil, err
	}
	held, err := st.Leases.Held()
	if err != nil {
		return nil, err
	}
	recs, err := st.Cache.List()
	if err != nil {
		return nil, err
	}
	g := &grouping{byDiff: map[v1.Hash]*entry{}, byBlob: map[v1.Hash]*entry{}, uses: uses}
	u := &usage{}
	blobs, err := st.Images.Blobs()
	if err != nil {
		return nil, err
	}
	have := map[v1.Hash]image.BlobInfo{}
	for _, b := range blobs {
		have[b.Digest] = b
	}
	for _, r := range recs {
		switch {
		case r.Record.Layer == nil:
			u.empty = append(u.empty, r)
		case !g.addRecord(r, have):
			u.stale = append(u.stale, r)
		}
	}
	if err := g.addSnapshots(st.Snapshots); err != nil {
		return nil, err
	}
	g.addBlobs(blobs)
	mounts, err := readMounts(st.CacheMounts)
	if err != nil {
		return nil, err
	}
	u.entries = g.finish(held, mounts)
	return u, nil
}

// grouping gathers entries by layer.
type grouping struct {
	byDiff map[v1.Hash]*entry
	byBlob map[v1.Hash]*entry
	uses   *image.Uses
}

func (g *grouping) layer(diffID, blob v1.Hash) *entry {
	e := g.byDiff[diffID]
	if e == nil {
		e = &entry{diffID: diffID, Record: Record{Type: TypeRegular}}
		g.byDiff[diffID] = e
	}
	if e.blob == (v1.Hash{}) && blob != (v1.Hash{}) {
		e.blob = blob
		g.byBlob[blob] = e
	}
	return e
}

// addRecord adds a cache record to its layer's entry; false when its blob is gone.
func (g *grouping) addRecord(r cache.Entry, have map[v1.Hash]image.BlobInfo) bool {
	d, err1 := v1.NewHash(r.Record.Layer.Digest)
	diff, err2 := v1.NewHash(r.Record.Layer.DiffID)
	b, ok := have[d]
	if err1 != nil || err2 != nil || !ok {
		return false
	}
	e := g.layer(diff, d)
	e.blobSize = b.Size
	e.keys = append(e.keys, r.Key)
	if e.LastUsedAt == nil || r.LastUsed.After(*e.LastUsedAt) {
		t := r.LastUsed
		e.LastUsedAt = &t
	}
	if e.CreatedAt.IsZero() || r.Record.Created.Before(e.CreatedAt) {
		e.CreatedAt = r.Record.Created
	}
	return true
}

// addSnapshots adds every unpacked layer: to its layer's entry, or as one of its own.
func (g *grouping) addSnapshots(snaps *snapshot.Store) error {
	layers, err := snaps.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		size, err := snaps.Size(l.DiffID)
		if errors.Is(err, os.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			return err
		}
		e := g.layer(l.DiffID, g.uses.Layers[l.DiffID])
		e.snapSize = size
		if e.LastUsedAt == nil {
			placed := l.Placed
			e.LastUsedAt, e.CreatedAt = &placed, placed
		}
	}
	return nil
}

// addBlobs sizes the blobs of entries and adds every blob nothing uses as an entry.
func (g *grouping) addBlobs(blobs []image.BlobInfo) {
	for _, b := range blobs {
		if e := g.byBlob[b.Digest]; e != nil {
			e.blobSize = b.Size
			continue
		}
		if g.uses.Blobs[b.Digest] {
			continue // an image's, not build cache
		}
		mod := b.Modified
		e := &entry{blob: b.Digest, blobSize: b.Size, Record: Record{Type: TypeRegular, CreatedAt: mod, LastUsedAt: &mod}}
		g.byBlob[b.Digest] = e
	}
}

// finish names, describes and sorts the entries, largest first.
func (g *grouping) finish(held map[string]bool, mounts []*entry) []*entry {
	var out []*entry
	seen := map[*entry]bool{}
	for _, m := range []map[v1.Hash]*entry{g.byDiff, g.byBlob} {
		for _, e := range m {
			if seen[e] || len(e.keys) == 0 && e.snapSize == 0 && g.uses.Blobs[e.blob] {
				continue // an image's layer, neither cached nor unpacked
			}
			seen[e] = true
			g.describe(e, held)
			out = append(out, e)
		}
	}
	out = append(out, mounts...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Size != out[j].Size {
			return out[i].Size > out[j].Size
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func (g *grouping) describe(e *entry, held map[string]bool) {
	e.Size = e.blobSize + e.snapSize
	e.Shared = g.uses.Blobs[e.blob] || g.uses.Layers[e.diffID] != (v1.Hash{})
	e.InUse = held[lease.BlobRef(e.blob.String())] || held[lease.LayerRef(e.diffID.String())]
	id := e.diffID.Hex
	if id == "" {
		id = e.blob.Hex
	}
	e.ID = shortID(id)
	switch {
	case len(e.keys) > 0:
		e.Description = fmt.Sprintf("layer %s, %d cache record(s)", shortDigest(e.diffID), len(e.keys))
	case e.Shared:
		e.Description = fmt.Sprintf("unpacked layer %s of a stored image", shortDigest(e.diffID))
	case e.diffID.Hex == "":
		e.Description = "blob " + shortDigest(e.blob) + " nothing uses"
	default:
		e.Description = "unpacked layer " + shortDigest(e.diffID) + " nothing uses"
	}
}

// shortID is an ID as long as BuildKit's record IDs.
func shortID(hex string) string { return hex[:min(len(hex), 25)] }

func shortDigest(d v1.Hash) string { return d.Algorithm + ":" + d.Hex[:min(len(d.Hex), 12)] }

// readMounts lists the cache mounts under dir.
func readMounts(dir string) ([]*entry, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing cache mounts: %w", err)
	}
	var out []*entry
	for _, de := range ents {
		if !de.IsDir() || strings.HasPrefix(de.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, de.Name())
		size, err := snapshot.DiskUsage(p)
		if err != nil {
			return nil, fmt.Errorf("measuring cache mount %s: %w", p, err)
		}
		e := &entry{mount: p, Record: Record{ID: shortID(de.Name()), Type: TypeCacheMount, Size: size, Mutable: true}}
		if fi, err := os.Stat(p); err == nil {
			e.CreatedAt = changed(fi)
		}
		if fi, err := os.Stat(MountLock(p)); err == nil {
			t := fi.ModTime()
			e.LastUsedAt = &t
		}
		id, _ := os.ReadFile(MountLock(p))
		e.Description = "cache mount " + strings.TrimSpace(string(id))
		e.InUse = mountInUse(p)
		out = append(out, e)
	}
	return out, nil
}

func changed(fi os.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Ctim.Unix())
	}
	return fi.ModTime()
}

// mountInUse reports a cache mount a build holds (its lock cannot be taken).
func mountInUse(dir string) bool {
	f, err := os.Open(MountLock(dir))
	if err != nil {
		return false
	}
	defer f.Close()
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil
}
