package image

import (
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/lease"
)

func leasedStore(t *testing.T) (*Store, *lease.Leases) {
	t.Helper()
	s := newStore(t)
	ls, err := lease.Open(filepath.Join(filepath.Dir(s.Dir()), "leases"))
	if err != nil {
		t.Fatal(err)
	}
	s.UseLeases(ls)
	return s, ls
}

// blobsOf lists the manifest, config and layer blobs of img.
func blobsOf(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	out := []v1.Hash{mustDigest(t, img), m.Config.Digest}
	for _, l := range m.Layers {
		out = append(out, l.Digest)
	}
	return out
}

// TestImageHeldSurvivesRmi: an image a reader (push, audit) holds keeps every blob through
// an rmi until the reader is done; then the blobs go.
func TestImageHeldSurvivesRmi(t *testing.T) {
	s, _ := leasedStore(t)
	img := simpleImage(t, "held")
	if _, err := s.Put(img, "example.com/held:1"); err != nil {
		t.Fatal(err)
	}
	_, _, release, err := s.ImageHeld("example.com/held:1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Remove("example.com/held:1"); err != nil {
		t.Fatal(err)
	}
	for _, d := range blobsOf(t, img) {
		if _, ok := s.Blob(d); !ok {
			t.Errorf("blob %s of a held image was removed", d)
		}
	}
	release()
	if err := s.CollectPending(); err != nil {
		t.Fatal(err)
	}
	for _, d := range blobsOf(t, img) {
		if _, ok := s.Blob(d); ok {
			t.Errorf("blob %s is still there after the reader ended", d)
		}
	}
}

// TestCommitHeldBeforeNamed: a blob committed with CommitHeld is held the moment it has
// its name, so a removal of unused blobs right after leaves it; one committed without a
// lease has no such protection.
func TestCommitHeldBeforeNamed(t *testing.T) {
	s, ls := leasedStore(t)
	l, err := ls.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	commit := func(held *lease.Lease, body string) v1.Hash {
		w, err := s.NewBlob()
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
		d, _, err := w.CommitHeld(held)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	kept, unheld := commit(l, "kept"), commit(nil, "unheld")
	if err := s.removeBlobsIfUnused([]v1.Hash{kept, unheld}); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Blob(kept); !ok {
		t.Error("a held, just-committed blob was removed")
	}
	if _, ok := s.Blob(unheld); ok {
		t.Error("an unheld, unused blob was kept")
	}
}
