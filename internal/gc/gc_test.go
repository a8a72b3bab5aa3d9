package gc

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// byDescription finds the record whose description contains s.
func byDescription(t *testing.T, recs []Record, s string) Record {
	t.Helper()
	for _, r := range recs {
		if strings.Contains(r.Description, s) {
			return r
		}
	}
	t.Fatalf("no record described as %q in %+v", s, recs)
	return Record{}
}

func TestDiskUsage(t *testing.T) {
	f := newFixture(t)
	recs, err := DiskUsage(f.st)
	if err != nil {
		t.Fatal(err)
	}
	// shared, cached, busy, dangling, orphan, two mounts; not the image's config or
	// manifest, not the records that name no data.
	if len(recs) != 7 {
		t.Fatalf("%d records, want 7: %+v", len(recs), recs)
	}
	short := func(d v1.Hash) string { return d.Hex[:12] }
	tests := []struct {
		desc                   string
		typ                    string
		shared, inUse, mutable bool
	}{
		{short(f.shared.diffID), TypeRegular, true, false, false},
		{short(f.cached.diffID), TypeRegular, false, false, false},
		{short(f.busy.diffID), TypeRegular, false, true, false},
		{"blob sha256:" + short(f.dangling.blob) + " nothing uses", TypeRegular, false, false, false},
		{"unpacked layer sha256:" + short(f.orphan) + " nothing uses", TypeRegular, false, false, false},
		{"cache mount /root/.cache", TypeCacheMount, false, false, true},
		{"cache mount /var/cache/apt", TypeCacheMount, false, true, true},
	}
	for _, tt := range tests {
		r := byDescription(t, recs, tt.desc)
		if r.Type != tt.typ || r.Shared != tt.shared || r.InUse != tt.inUse || r.Mutable != tt.mutable {
			t.Errorf("%s: %+v", tt.desc, r)
		}
		if r.Size <= 0 || r.LastUsedAt == nil || len(r.ID) != 25 {
			t.Errorf("%s: size %d, last used %v, ID %q", tt.desc, r.Size, r.LastUsedAt, r.ID)
		}
	}
	if c := byDescription(t, recs, short(f.cached.diffID)); c.Size <= f.cached.size {
		t.Errorf("a cached, unpacked layer's size %d does not count its unpacked dir (blob %d)", c.Size, f.cached.size)
	}
}

// TestPrune checks what each kind of prune removes and keeps, and that the tagged image
// stays complete whatever is pruned.
func TestPrune(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		gone    []string // fixture items removed
		records []string // cache records left
	}{
		{"default: what no image shares and no build uses", Options{},
			[]string{"cached", "dangling", "orphan", "mount"}, []string{"shared", "busy", "empty"}},
		{"-a: image-shared records and unpacked dirs too", Options{All: true},
			[]string{"cached", "dangling", "orphan", "mount", "sharedSnap"}, []string{"busy"}},
		{"cache mounts kept", Options{KeepCacheMounts: true},
			[]string{"cached", "dangling", "orphan"}, []string{"shared", "busy", "empty"}},
		{"type=exec.cachemount", Options{Type: TypeCacheMount},
			[]string{"mount"}, []string{"shared", "cached", "busy", "empty", "stale"}},
		{"until: what was used lately stays", Options{All: true, KeepDuration: time.Hour},
			[]string{"cached"}, []string{"shared", "busy", "empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.opts.KeepDuration != 0 { // only the cached layer was not used lately
				f.age(t, f.recordPath("cached"), 3*time.Hour)
			}
			res, err := Prune(f.st, tt.opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			f.check(t, tt.gone, tt.records)
			var freed int64
			for _, r := range res.Records {
				freed += r.Size
			}
			if freed != res.Freed || res.Freed <= 0 || len(res.Records) != len(tt.gone) {
				t.Errorf("result: %d records (want %d), freed %d (sum %d)", len(res.Records), len(tt.gone), res.Freed, freed)
			}
		})
	}
}

// check asserts the fixture items gone are removed, the others and the tagged image are
// there, and exactly records are left.
func (f *fixture) check(t *testing.T, gone, records []string) {
	t.Helper()
	blob := func(l layer) string { return f.root + "/store/blobs/sha256/" + l.blob.Hex }
	paths := map[string]string{"cached": blob(f.cached), "dangling": blob(f.dangling), "orphan": f.orphanDir,
		"mount": f.mount, "sharedSnap": f.sharedSnap, "busy": blob(f.busy), "busyMount": f.busyMount,
		"cachedSnap": f.cachedSnap, "shared": blob(f.shared)}
	if slices.Contains(gone, "cached") {
		gone = append(gone, "cachedSnap")
	}
	for name, p := range paths {
		if want := !slices.Contains(gone, name); exists(p) != want {
			t.Errorf("%s (%s): exists %v, want %v", name, p, !want, want)
		}
	}
	for name := range f.keys {
		if want := slices.Contains(records, name); exists(f.recordPath(name)) != want {
			t.Errorf("cache record %s: exists %v, want %v", name, !want, want)
		}
	}
	img, _, err := f.st.Images.Image(f.image)
	if err != nil {
		t.Fatalf("the tagged image: %v", err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("the tagged image's layers: %v %v", layers, err)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatalf("the tagged image's layer blob: %v", err)
	}
	rc.Close()
}

// TestPruneKeepStorage: with a size to keep, the least recently used goes first, and only
// as much as needed.
func TestPruneKeepStorage(t *testing.T) {
	f := newFixture(t)
	f.age(t, f.recordPath("cached"), 72*time.Hour) // the oldest
	recs, err := DiskUsage(f.st)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, r := range recs {
		total += r.Size
	}
	cached := byDescription(t, recs, f.cached.diffID.Hex[:12])
	res, err := Prune(f.st, Options{ReservedSpace: total - cached.Size/2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != 1 || res.Records[0].ID != cached.ID {
		t.Fatalf("removed %+v, want only the least recently used (%s)", res.Records, cached.ID)
	}
	res, err = Prune(f.st, Options{ReservedSpace: total * 2}, nil)
	if err != nil || len(res.Records) != 0 {
		t.Errorf("a cache under the size to keep lost %+v (%v)", res.Records, err)
	}
}

func TestPruneFilterID(t *testing.T) {
	f := newFixture(t)
	id := f.dangling.blob.Hex[:25]
	res, err := Prune(f.st, Options{ID: regexp.MustCompile("^" + id[:10])}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != 1 || res.Records[0].ID != id {
		t.Fatalf("removed %+v, want only %s", res.Records, id)
	}
	f.check(t, []string{"dangling"}, []string{"shared", "cached", "busy", "empty", "stale"})
}

func TestKeepBytes(t *testing.T) {
	tests := []struct {
		name  string
		total int64
		o     Options
		want  int64
	}{
		{"nothing set: remove every match", 100, Options{}, 0},
		{"reserved only", 100, Options{ReservedSpace: 40}, 40},
		{"max used", 100, Options{MaxUsedSpace: 60}, 60},
		{"max used below reserved", 100, Options{MaxUsedSpace: 30, ReservedSpace: 50}, 50},
		{"enough free space: min-free-space keeps all", 100, Options{MinFreeSpace: 1}, 100},
		{"a full disk: free what min-free-space needs", 100, Options{MinFreeSpace: 1 << 62, ReservedSpace: 7}, 7},
		{"a full disk, max used set: free all it can", 100, Options{MinFreeSpace: 1 << 62, MaxUsedSpace: 60}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := keepBytes(tt.total, t.TempDir(), tt.o)
			if err != nil || got != tt.want {
				t.Errorf("keepBytes = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

// TestCollect: the policy keeps a cache that fits, and takes back the least recently used
// first once it does not; a tagged image's blobs stay.
func TestCollect(t *testing.T) {
	f := newFixture(t)
	p := DefaultPolicy()
	if freed, err := Collect(f.st, p); err != nil || freed != 0 {
		t.Fatalf("a small cache under the default policy lost %d bytes (%v)", freed, err)
	}
	f.age(t, f.recordPath("cached"), 90*24*time.Hour)
	freed, err := Collect(f.st, p)
	if err != nil || freed == 0 || exists(f.cachedSnap) {
		t.Fatalf("a layer unused for 90 days survived (freed %d, %v)", freed, err)
	}
	p = Policy{MaxUsedSpace: Space{Bytes: 1}}
	if _, err := Collect(f.st, p); err != nil {
		t.Fatal(err)
	}
	// The size-bound passes keep records of steps that changed nothing: they take no space.
	f.check(t, []string{"cached", "dangling", "orphan", "mount", "sharedSnap"}, []string{"busy", "empty"})
}
