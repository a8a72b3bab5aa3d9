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

// TestSweepDirRemovedMeanwhile: a dir Sweep listed whose owner removed it before Sweep
// looked at it is no error (another process was removing its own workspace).
func TestSweepDirRemovedMeanwhile(t *testing.T) {
	if err := sweepDir(filepath.Join(t.TempDir(), "gone"), nil); err != nil {
		t.Errorf("sweeping a dir that vanished: %v", err)
	}
}

// TestSweepKilledMidway: a process killed while it removed its dir (the lock goes last, so
// it is still there, free) left a dir the next Sweep removes at once, however recent; a
// dir whose owner is still locking it (lock.new, held or not yet) is left to Grace.
func TestSweepKilledMidway(t *testing.T) {
	parent := t.TempDir()
	removing, err := New(parent)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(removing.Path(), "a", "b"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := removeAllBut(removing.Path(), lockName); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(removing.Path(), lockName)); err != nil {
		t.Fatalf("removing the dir's contents took its lock: %v", err)
	}
	removing.Release() // killed before the rest
	liveNew := filepath.Join(parent, "live")
	if err := os.MkdirAll(liveNew, 0o700); err != nil {
		t.Fatal(err)
	}
	// Its owner created lock.new and has not locked it yet: it must not be taken for dead.
	if err := os.WriteFile(filepath.Join(liveNew, lockName+".new"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Sweep(parent, nil); err != nil {
		t.Fatal(err)
	}
	for path, keep := range map[string]bool{removing.Path(): false, liveNew: true} {
		if _, err := os.Lstat(path); (err == nil) != keep {
			t.Errorf("%s: exists = %v, want %v", path, err == nil, keep)
		}
	}
}
