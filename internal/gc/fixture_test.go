package gc

// A state dir with one of each kind of build cache, made with the real stores.

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/sys/unix"

	"github.com/hush-build/hush/internal/cache"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/lease"
	"github.com/hush-build/hush/internal/snapshot"
)

// layer is a stored layer of the fixture.
type layer struct {
	blob, diffID v1.Hash
	size         int64
	tar          []byte
}

// fixture is a state dir holding:
//
//	shared    a tagged image's layer, unpacked, named by a cache record
//	cached    a layer named by a cache record, unpacked
//	busy      a layer named by a cache record and held by a live lease
//	dangling  a blob nothing names
//	orphan    an unpacked layer nothing names
//	empty     a cache record of a step that changed nothing
//	stale     a cache record whose blob is gone
//	mount     a cache mount no build uses; busyMount one a build holds
type fixture struct {
	st                                Stores
	root                              string
	shared, cached, busy, dangling    layer
	orphan                            v1.Hash
	keys                              map[string]string // fixture name -> cache key
	mount, busyMount                  string
	lease                             *lease.Lease
	image                             string
	mountLock                         *os.File
	sharedSnap, cachedSnap, orphanDir string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root := t.TempDir()
	f := &fixture{root: root, keys: map[string]string{}, image: "example.com/app:1"}
	f.st = openStores(t, root)
	f.shared, f.cached, f.busy, f.dangling = f.addLayer(t), f.addLayer(t), f.addLayer(t), f.addLayer(t)
	f.tag(t, f.shared)
	for name, l := range map[string]layer{"shared": f.shared, "cached": f.cached, "busy": f.busy} {
		f.record(t, name, &cache.Layer{Digest: l.blob.String(), DiffID: l.diffID.String(), Size: l.size, MediaType: string(types.OCILayer)})
	}
	f.record(t, "empty", nil)
	gone := f.addLayer(t)
	f.record(t, "stale", &cache.Layer{Digest: gone.blob.String(), DiffID: gone.diffID.String(), Size: gone.size})
	if err := os.Remove(filepath.Join(root, "store", "blobs", "sha256", gone.blob.Hex)); err != nil {
		t.Fatal(err)
	}
	f.sharedSnap, f.cachedSnap = f.unpack(t, f.shared), f.unpack(t, f.cached)
	o := f.addLayer(t)
	f.orphanDir, f.orphan = f.unpack(t, o), o.diffID
	if err := os.Remove(filepath.Join(root, "store", "blobs", "sha256", o.blob.Hex)); err != nil {
		t.Fatal(err)
	}
	var err error
	if f.lease, err = f.st.Leases.Acquire(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.lease.Release)
	if err := f.lease.Hold(lease.BlobRef(f.busy.blob.String()), lease.LayerRef(f.busy.diffID.String())); err != nil {
		t.Fatal(err)
	}
	f.mount, f.busyMount = f.addMount(t, "/root/.cache"), f.addMount(t, "/var/cache/apt")
	if f.mountLock, err = os.Open(MountLock(f.busyMount)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.mountLock.Close() })
	if err := unix.Flock(int(f.mountLock.Fd()), unix.LOCK_SH); err != nil {
		t.Fatal(err)
	}
	return f
}

func openStores(t *testing.T, root string) Stores {
	t.Helper()
	leases, err := lease.Open(filepath.Join(root, "leases"))
	if err != nil {
		t.Fatal(err)
	}
	images, err := image.OpenStore(filepath.Join(root, "store"))
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := snapshot.Open(filepath.Join(root, "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(filepath.Join(root, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	images.UseLeases(leases)
	snaps.UseLeases(leases)
	trash := filepath.Join(root, "tmp")
	if err := os.MkdirAll(trash, 0o700); err != nil {
		t.Fatal(err)
	}
	return Stores{Images: images, Snapshots: snaps, Cache: c, Leases: leases,
		CacheMounts: filepath.Join(root, "cachemounts"), Trash: trash, Lock: filepath.Join(root, "gc.lock")}
}

// addLayer stores a layer of one random file as a blob.
func (f *fixture) addLayer(t *testing.T) layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	content := make([]byte, 8192)
	_, _ = rand.Read(content)
	name := hex.EncodeToString(content[:6])
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg, ModTime: time.Unix(1, 0)}); err != nil {
		t.Fatal(err)
	}
	tw.Write(content)
	tw.Close()
	diffID, _, err := v1.SHA256(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	w, err := f.st.Images.NewBlob()
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(w)
	gz.Write(buf.Bytes())
	gz.Close()
	d, size, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	return layer{blob: d, diffID: diffID, size: size, tar: buf.Bytes()}
}

// tag stores an image of l under f.image.
func (f *fixture) tag(t *testing.T, l layer) {
	t.Helper()
	bl, err := f.st.Images.BlobLayer(l.blob, l.diffID, l.size, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{Layer: bl, MediaType: types.OCILayer})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Images.Put(img, f.image); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) record(t *testing.T, name string, l *cache.Layer) {
	t.Helper()
	key := cache.NewKey("run", name).Sum()
	if err := f.st.Cache.Put(key, &cache.Record{Layer: l, Created: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	f.keys[name] = key
}

func (f *fixture) unpack(t *testing.T, l layer) string {
	t.Helper()
	dir, err := f.st.Snapshots.Ensure(l.diffID, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(l.tar)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// addMount makes a cache mount dir with a file, as a build leaves one.
func (f *fixture) addMount(t *testing.T, id string) string {
	t.Helper()
	name := make([]byte, 16)
	_, _ = rand.Read(name)
	dir := filepath.Join(f.st.CacheMounts, hex.EncodeToString(name))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pkg"), bytes.Repeat([]byte("x"), 20000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(MountLock(dir), []byte(id), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// age makes the cache records of name (or a cache mount dir's lock) look last used d ago.
func (f *fixture) age(t *testing.T, path string, d time.Duration) {
	t.Helper()
	when := time.Now().Add(-d)
	if err := os.Chtimes(path, when, when); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) recordPath(name string) string {
	return filepath.Join(f.st.Cache.Dir(), f.keys[name][len("sha256:"):]+".json")
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
