package snapshot

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestLayersAndSize: an unpacked layer is listed and measured (its files' blocks), the
// size recorded and read back; a removed layer is neither listed nor measured.
func TestLayersAndSize(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := makeTar(t, tarEntry{name: "f", body: string(bytes.Repeat([]byte("x"), 50000))})
	diffID, _, err := v1.SHA256(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ensure(diffID, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }); err != nil {
		t.Fatal(err)
	}
	layers, err := s.Layers()
	if err != nil || len(layers) != 1 || layers[0].DiffID != diffID || layers[0].Placed.IsZero() {
		t.Fatalf("Layers = %+v, %v", layers, err)
	}
	n, err := s.Size(diffID)
	if err != nil || n < 50000 {
		t.Fatalf("Size = %d, %v; want at least the file's 50000 bytes", n, err)
	}
	if b, err := os.ReadFile(s.sizePath(diffID.Hex)); err != nil || string(b) == "" {
		t.Errorf("size not recorded: %q %v", b, err)
	}
	if again, err := s.Size(diffID); err != nil || again != n {
		t.Errorf("recorded size = %d, %v; measured %d", again, err, n)
	}
	if err := s.Remove(diffID); err != nil {
		t.Fatal(err)
	}
	if layers, _ := s.Layers(); len(layers) != 0 {
		t.Errorf("a removed layer is listed: %+v", layers)
	}
	if _, err := os.Stat(s.sizePath(diffID.Hex)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a removed layer's size is still recorded: %v", err)
	}
	if _, err := DiskUsage(filepath.Join(t.TempDir(), "gone")); err == nil {
		t.Error("DiskUsage of a missing dir is no error")
	}
}
