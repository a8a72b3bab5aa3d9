package lease

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestLeases(t *testing.T) {
	ls, live := openLease(t)
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
	err = ls.Exclusive(func(v *View) error {
		for _, r := range []string{BlobRef("sha256:aa"), BlobRef("sha256:dd"), LayerRef("sha256:bb"), LayerRef("sha256:ee")} {
			if err := v.Defer(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if blobs := pending(t, ls, "blob "); !slices.Equal(blobs, []string{BlobRef("sha256:dd")}) {
		t.Errorf("pending blobs = %v; want only the unheld one", blobs)
	}
	live.Release()
	layers := pending(t, ls, "layer ")
	slices.Sort(layers)
	if !slices.Equal(layers, []string{LayerRef("sha256:bb"), LayerRef("sha256:ee")}) {
		t.Errorf("pending layers after the lease ended = %v", layers)
	}
	if blobs := pending(t, ls, "blob "); !slices.Equal(blobs, []string{BlobRef("sha256:aa")}) {
		t.Errorf("pending blobs after the lease ended = %v", blobs)
	}
	if left := pending(t, ls, ""); len(left) != 0 {
		t.Errorf("pending after collecting everything: %v", left)
	}
	var none *Lease
	if err := none.Hold("x"); err != nil {
		t.Errorf("a nil lease holds nothing without error: %v", err)
	}
	none.Release()
}

func TestDropKeepsTheRest(t *testing.T) {
	ls, l := openLease(t)
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

func pending(t *testing.T, ls *Leases, prefix string) []string {
	t.Helper()
	var out []string
	err := ls.Exclusive(func(v *View) error {
		var err error
		out, err = v.Pending(prefix)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestHoldWaitsForExclusive: a Hold that starts while a remover is inside Exclusive lands
// only after it, so the remover's view of what is held cannot go stale under it; and the
// holder, checking afterwards, sees what the remover did.
func TestHoldWaitsForExclusive(t *testing.T) {
	ls, l := openLease(t)
	held := make(chan error, 1)
	var sawHeld bool
	err := ls.Exclusive(func(v *View) error {
		go func() { held <- l.Hold(BlobRef("sha256:x")) }()
		select {
		case err := <-held:
			return fmt.Errorf("Hold returned inside Exclusive (err %v)", err)
		case <-time.After(200 * time.Millisecond):
		}
		sawHeld = v.Held(BlobRef("sha256:x"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sawHeld {
		t.Error("the remover saw a hold that had not landed")
	}
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if h, _ := ls.Held(); !h[BlobRef("sha256:x")] {
		t.Errorf("held after Exclusive = %v", h)
	}
}

// TestLive tells a running lease from an ended one and from names that are not leases.
func TestLive(t *testing.T) {
	ls, l := openLease(t)
	id := l.ID()
	if !ls.Live(id) {
		t.Errorf("a running lease %q is not live", id)
	}
	l.Release()
	for _, id := range []string{id, "", "../x", "nope"} {
		if ls.Live(id) {
			t.Errorf("Live(%q) after release", id)
		}
	}
	// A lease whose owner died: the file is left, unlocked.
	if err := os.WriteFile(ls.leasePath("dead"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if ls.Live("dead") {
		t.Error("a dead owner's lease is live")
	}
	var none *Lease
	if none.ID() != "" {
		t.Error("a nil lease has an ID")
	}
}

// openLease opens leases in a temp dir and acquires one, released when the test ends.
func openLease(t *testing.T) (*Leases, *Lease) {
	t.Helper()
	ls, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l, err := ls.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Release)
	return ls, l
}
