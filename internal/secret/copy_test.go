package secret

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestCopyFrom checks that a copied value is the source's, under the new id, independent
// of the source's copy, and that the source's files are noted.
func TestCopyFrom(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tok")
	if err := os.WriteFile(p, []byte("copied-value-0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	pool, err := Load([]Spec{{ID: "file:" + p, Src: p}}, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	dst := NewSet()
	if err := dst.CopyFrom(pool, "file:"+p, "npmrc"); err != nil {
		t.Fatal(err)
	}
	if err := dst.CopyFrom(pool, "nope", "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("copying a missing id: %v, want ErrNotFound", err)
	}
	pool.Wipe()
	got, err := dst.Get(context.Background(), "npmrc")
	if err != nil || string(got) != "copied-value-0123456789" {
		t.Fatalf("copy after the source was wiped: %q, %v", got, err)
	}
	if len(dst.Files()) != 1 {
		t.Errorf("files of the copy: %v, want the source's file", dst.Files())
	}
}
