package scratch

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSweep(t *testing.T) {
	parent := filepath.Join(t.TempDir(), "tmp")
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("host file"), 0o644); err != nil {
		t.Fatal(err)
	}
	live, err := New(parent)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Remove()
	dead, err := New(parent)
	if err != nil {
		t.Fatal(err)
	}
	// What a killed step left: a file with a secret and a link out of the dir.
	if err := os.WriteFile(filepath.Join(dead.Path(), "leak"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dead.Path(), "out")); err != nil {
		t.Fatal(err)
	}
	dead.Release()
	stale := filepath.Join(parent, "stale-no-lock")
	fresh := filepath.Join(parent, "fresh-no-lock")
	for _, d := range []string{stale, fresh} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * Grace)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	var swept []string
	if err := Sweep(parent, func(dir string) error { swept = append(swept, dir); return nil }); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	for path, keep := range map[string]bool{live.Path(): true, dead.Path(): false, stale: false, fresh: true, victim: true} {
		if _, err := os.Lstat(path); (err == nil) != keep {
			t.Errorf("%s: exists = %v, want %v", path, err == nil, keep)
		}
	}
	if len(swept) != 2 {
		t.Errorf("before ran on %v, want the dead and the stale dir", swept)
	}
	if err := Sweep(filepath.Join(t.TempDir(), "missing"), nil); err != nil {
		t.Errorf("Sweep of a missing parent: %v", err)
	}
}
