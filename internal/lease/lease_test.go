package lease

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestLeases(t *testing.T) {
	ls, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	live, err := ls.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	defer live.Release()
	if err := live.Hold(BlobRef("sha256:aa"), LayerRef("sha256:bb"), BlobRef("sha256:aa")); err != nil {
		t.Fatal(err)
	}
	// A dead build's lease: its file stays, its lock is gone.
	dead := filepath.Join(ls.dir, "dead.lease")
	if err := os.WriteFile(dead, []byte(BlobRef("sha256:cc")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	held, err := ls.Held()
	if err != nil {
		t.Fatal(err)
	}
	if !held[BlobRef("sha256:aa")] || !held[LayerRef("sha256:bb")] || held[BlobRef("sha256:cc")] {
		t.Errorf("held = %v; want the live lease's refs only", held)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("the dead lease file was not removed: %v", err)
	}
	for _, r := range []string{BlobRef("sha256:aa"), BlobRef("sha256:dd"), LayerRef("sha256:bb"), LayerRef("sha256:ee")} {
		if err := ls.Defer(r); err != nil {
			t.Fatal(err)
		}
	}
	blobs, err := ls.Pending("blob ")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(blobs, []string{BlobRef("sha256:dd")}) {
		t.Errorf("pending blobs = %v; want only the unheld one", blobs)
	}
	live.Release()
	layers, err := ls.Pending("layer ")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(layers)
	if !slices.Equal(layers, []string{LayerRef("sha256:bb"), LayerRef("sha256:ee")}) {
		t.Errorf("pending layers after the lease ended = %v", layers)
	}
	if blobs, _ := ls.Pending("blob "); !slices.Equal(blobs, []string{BlobRef("sha256:aa")}) {
		t.Errorf("pending blobs after the lease ended = %v", blobs)
	}
	if left, _ := ls.Pending(""); len(left) != 0 {
		t.Errorf("pending after collecting everything: %v", left)
	}
	var none *Lease
	if err := none.Hold("x"); err != nil {
		t.Errorf("a nil lease holds nothing without error: %v", err)
	}
	none.Release()
}

func TestDropKeepsTheRest(t *testing.T) {
	ls, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l, err := ls.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if err := l.Hold(BlobRef("sha256:a"), BlobRef("sha256:b")); err != nil {
		t.Fatal(err)
	}
	if err := l.Drop(BlobRef("sha256:a")); err != nil {
		t.Fatal(err)
	}
	held, err := ls.Held()
	if err != nil {
		t.Fatal(err)
	}
	if held[BlobRef("sha256:a")] || !held[BlobRef("sha256:b")] {
		t.Errorf("after dropping a: held = %v, want b only", held)
	}
	if err := l.Hold(BlobRef("sha256:a")); err != nil {
		t.Fatal(err)
	}
	if held, _ := ls.Held(); !held[BlobRef("sha256:a")] {
		t.Errorf("a held again is not held: %v", held)
	}
}
