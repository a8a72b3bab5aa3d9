package snapshot

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/lease"
)

// TestRemoveHeldLayer: removing a layer a build holds leaves it (ErrInUse) until the build
// ends; the next CollectPending removes it. CommitHeld holds what it commits before the
// layer has its name.
func TestRemoveHeldLayer(t *testing.T) {
	root := t.TempDir()
	s, err := Open(filepath.Join(root, "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	ls, err := lease.Open(filepath.Join(root, "leases"))
	if err != nil {
		t.Fatal(err)
	}
	s.UseLeases(ls)
	l, err := ls.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	w, err := s.NewWorkspace()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Remove()
	if err := os.WriteFile(filepath.Join(w.Upper, "f"), []byte("built"), 0o644); err != nil {
		t.Fatal(err)
	}
	diffID, err := s.CommitHeld(w, io.Discard, l)
	if err != nil {
		t.Fatal(err)
	}
	if held, _ := ls.Held(); !held[lease.LayerRef(diffID.String())] {
		t.Fatalf("the committed layer is not held: %v", held)
	}
	if err := s.Remove(diffID); !errors.Is(err, ErrInUse) {
		t.Fatalf("removing a held layer: %v, want ErrInUse", err)
	}
	if _, ok := s.Dir(diffID); !ok {
		t.Fatal("a held layer was removed")
	}
	if err := s.CollectPending(); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Dir(diffID); !ok {
		t.Fatal("CollectPending removed a layer still held")
	}
	l.Release()
	if err := s.CollectPending(); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Dir(diffID); ok {
		t.Error("the layer is still there after its last lease ended")
	}
	if left, _ := os.ReadDir(filepath.Join(s.Root(), tempDir)); len(left) != 0 {
		t.Errorf("trash left in %s: %d entries", tempDir, len(left))
	}
	data := makeTar(t, tarEntry{name: "g", body: "x"})
	d, _, _ := v1.SHA256(bytes.NewReader(data))
	if _, err := s.Ensure(d, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(d); err != nil {
		t.Errorf("removing a layer nobody holds: %v", err)
	}
	if _, ok := s.Dir(d); ok {
		t.Error("a layer nobody holds was not removed")
	}
}
