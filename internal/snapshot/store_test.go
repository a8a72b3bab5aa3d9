package snapshot

import (
	"github.com/hush-build/hush/internal/scratch"

	"github.com/hush-build/hush/internal/untar"

	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

func TestEnsureConcurrentOnce(t *testing.T) {
	needRoot(t)
	root := filepath.Join(t.TempDir(), "s")
	// Two Stores on one root stand in for two processes.
	s1, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	b := makeTar(t, tarEntry{name: "x", body: strings.Repeat("layer", 10000)})
	id := diffIDOf(b)
	var opens [2]atomic.Int32
	var wg sync.WaitGroup
	dirs := make([]string, 16)
	errs := make([]error, 16)
	for i := range dirs {
		wg.Go(func() {
			s, n := s1, &opens[0]
			if i%2 == 1 {
				s, n = s2, &opens[1]
			}
			dirs[i], errs[i] = s.Ensure(id, func() (io.ReadCloser, error) {
				n.Add(1)
				time.Sleep(20 * time.Millisecond) // widen the race window
				return opener(b)()
			})
		})
	}
	wg.Wait()
	for i := range dirs {
		if errs[i] != nil || dirs[i] != dirs[0] {
			t.Errorf("Ensure %d = %q, %v; want %q", i, dirs[i], errs[i], dirs[0])
		}
	}
	for i := range opens {
		if n := opens[i].Load(); n != 1 {
			t.Errorf("store %d opened the layer %d times, want once", i+1, n)
		}
	}
	if got, err := os.ReadFile(filepath.Join(dirs[0], "x")); err != nil || len(got) != 50000 {
		t.Errorf("unpacked file: %d bytes, %v", len(got), err)
	}
	// Already present: open must not be called at all.
	if _, err := s1.Ensure(id, func() (io.ReadCloser, error) {
		return nil, errors.New("must not open")
	}); err != nil {
		t.Errorf("Ensure of present layer: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(s1.Root(), tempDir)); len(ents) != 0 {
		t.Errorf("temp dirs left behind: %v", ents)
	}
}

func TestEnsureErrors(t *testing.T) {
	needRoot(t)
	s := openStore(t)
	good := makeTar(t, tarEntry{name: "a", body: "a"})
	evil := makeTar(t, tarEntry{name: "a/.wh.."})
	tests := []struct {
		name    string
		id      v1.Hash
		open    func() (io.ReadCloser, error)
		wantErr error
		wantMsg string
	}{
		{"content does not match diffID", diffIDOf(makeTar(t)), opener(good), ErrDiffIDMismatch, "does not match"},
		{"whiteout of dotdot in layer", diffIDOf(evil), opener(evil), untar.ErrUnsafeEntry, `"a/.wh.."`},
		{"open fails", diffIDOf(good), func() (io.ReadCloser, error) { return nil, os.ErrPermission }, os.ErrPermission, "opening layer"},
		{"diffID with path", v1.Hash{Algorithm: "sha256", Hex: "../../etc"}, opener(good), ErrInvalidDiffID, "invalid diffID"},
		{"non-sha256 diffID", v1.Hash{Algorithm: "md5", Hex: strings.Repeat("a", 64)}, opener(good), ErrInvalidDiffID, "invalid diffID"},
		{"uppercase hex", v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("A", 64)}, opener(good), ErrInvalidDiffID, "invalid diffID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Ensure(tt.id, tt.open)
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %v; want %v containing %q", err, tt.wantErr, tt.wantMsg)
			}
			if _, ok := s.Dir(tt.id); ok {
				t.Error("failed Ensure left a layer dir")
			}
		})
	}
	if ents, _ := os.ReadDir(filepath.Join(s.Root(), layersDir)); len(ents) != 0 {
		t.Errorf("layers stored after failures: %v", ents)
	}
	if ents, _ := os.ReadDir(filepath.Join(s.Root(), tempDir)); len(ents) != 0 {
		t.Errorf("temp dirs left behind: %v", ents)
	}
}

func TestPrune(t *testing.T) {
	needRoot(t)
	s := openStore(t)
	live, err := s.NewWorkspace()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { live.Remove() })

	// A dead build: its lock released without removal, merged still mounted.
	dead, err := s.NewWorkspace()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dead.Mount(nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(dead.Merged, unix.MNT_DETACH) })
	dead.dir.Release()

	// A crashed unpack without a lock file, old enough to be past the grace.
	stale := filepath.Join(s.Root(), tempDir, "stale")
	if err := os.MkdirAll(filepath.Join(stale, "d"), 0o700); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * scratch.Grace)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	// A fresh dir without a lock file: its owner may be about to lock it.
	fresh := filepath.Join(s.Root(), tempDir, "fresh")
	if err := os.Mkdir(fresh, 0o700); err != nil {
		t.Fatal(err)
	}

	if err := Prune(s.Root()); err != nil {
		t.Fatalf("Prune: %v", err)
	}
	tests := []struct {
		path string
		keep bool
	}{
		{filepath.Dir(live.Upper), true},
		{filepath.Dir(dead.Upper), false},
		{stale, false},
		{fresh, true},
	}
	for _, tt := range tests {
		_, err := os.Lstat(tt.path)
		if exists := err == nil; exists != tt.keep {
			t.Errorf("%s: exists = %v, want %v", tt.path, exists, tt.keep)
		}
	}
	if err := Prune(filepath.Join(t.TempDir(), "missing")); err != nil {
		t.Errorf("Prune of missing root: %v", err)
	}
}
