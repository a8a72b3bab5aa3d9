package image

import (
	"os"
	"path/filepath"
	"testing"
)

// TestStaleBlobTempsAreSweptAtOnce: a half-written layer blob of a killed writer may hold
// what a step wrote (a secret); the next command that opens the store removes it at once,
// while a live writer's temp file stays.
func TestStaleBlobTempsAreSweptAtOnce(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	live, err := s.NewBlob()
	if err != nil {
		t.Fatal(err)
	}
	defer live.Abort()
	dead, err := s.NewBlob()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dead.Write([]byte("half a layer with a secret")); err != nil {
		t.Fatal(err)
	}
	dead.f.Close() // what the kernel does when the writer is killed
	if _, err := OpenStore(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead.name); !os.IsNotExist(err) {
		t.Errorf("the killed writer's temp blob is still there: %v", err)
	}
	if _, err := os.Stat(live.name); err != nil {
		t.Errorf("the live writer's temp blob was removed: %v", err)
	}
	ents, _ := os.ReadDir(filepath.Dir(live.name))
	if len(ents) != 1 {
		t.Errorf("temp dir holds %d entries, want the live blob only", len(ents))
	}
}
