package snapshot

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

func diffIDOf(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

func opener(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// ensureLayers unpacks n layers into s and returns their dirs top-most first.
// Bottom layer: bottom.txt, hidden.txt, gone.txt; a middle layer whites out
// hidden.txt; every layer i has f<i>.txt.
func ensureLayers(t *testing.T, s *Store, n int) []string {
	t.Helper()
	middle := n / 2
	if middle == n-1 {
		middle = 0
	}
	lowers := make([]string, n)
	for i := range n {
		entries := []tarEntry{{name: fmt.Sprintf("f%d.txt", i), body: fmt.Sprint(i)}}
		switch i {
		case n - 1:
			entries = append(entries,
				tarEntry{name: "bottom.txt", body: "from the bottom"},
				tarEntry{name: "gone.txt", body: "deleted in the step"},
				tarEntry{name: "hidden.txt", body: "must be hidden"})
		case middle:
			entries = append(entries, tarEntry{name: ".wh.hidden.txt"})
		}
		b := makeTar(t, entries...)
		dir, err := s.Ensure(diffIDOf(b), opener(b))
		if err != nil {
			t.Fatalf("Ensure layer %d: %v", i, err)
		}
		lowers[i] = dir
	}
	return lowers
}

func openStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMountStepAndCommit(t *testing.T) {
	needRoot(t)
	tests := []struct {
		name       string
		lowers     int
		fsconfig   bool
		wantLegacy bool
	}{
		{name: "2 lowers via mount(2)", lowers: 2, wantLegacy: true},
		{name: "2 lowers forced through fsconfig", lowers: 2, fsconfig: true, wantLegacy: true},
		{name: "150 lowers", lowers: 150},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t)
			lowers := ensureLayers(t, s, tt.lowers)
			w, err := s.NewWorkspace()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { w.Remove() })
			cfg := overlayConfig{lowers: lowers, upper: w.Upper, work: w.Work, forceFSConfig: tt.fsconfig}
			if _, legacy := legacyOverlayData(cfg); legacy != tt.wantLegacy {
				t.Fatalf("data fits mount(2) = %v, want %v", legacy, tt.wantLegacy)
			}
			if err := mountOverlay(cfg, w.Merged); err != nil {
				t.Fatal(err)
			}
			unmount := unmounter(w.Merged)
			t.Cleanup(func() { unmount() })

			m := func(p string) string { return filepath.Join(w.Merged, p) }
			if b, err := os.ReadFile(m("bottom.txt")); err != nil || string(b) != "from the bottom" {
				t.Errorf("bottom.txt = %q, %v", b, err)
			}
			if b, err := os.ReadFile(m(fmt.Sprintf("f%d.txt", tt.lowers/2))); err != nil || len(b) == 0 {
				t.Errorf("middle layer file: %q, %v", b, err)
			}
			if _, err := os.Stat(m("hidden.txt")); !os.IsNotExist(err) {
				t.Errorf("hidden.txt should be whited out, stat err = %v", err)
			}
			if err := os.WriteFile(m("new.txt"), []byte("step output"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(m("gone.txt")); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(w.Upper, "new.txt")); err != nil {
				t.Errorf("write did not land in upper: %v", err)
			}
			if _, err := s.Commit(w, io.Discard); !errors.Is(err, ErrStillMounted) {
				t.Errorf("Commit of a mounted workspace: err = %v, want ErrStillMounted", err)
			}
			if err := w.Remove(); !errors.Is(err, ErrStillMounted) {
				t.Errorf("Remove of a mounted workspace: err = %v, want ErrStillMounted", err)
			}
			if err := unmount(); err != nil {
				t.Fatal(err)
			}
			if err := unmount(); err != nil {
				t.Errorf("second unmount: %v", err)
			}

			var layer bytes.Buffer
			upper := w.Upper
			diffID, err := s.Commit(w, &layer)
			if err != nil {
				t.Fatal(err)
			}
			if want := diffIDOf(layer.Bytes()); diffID != want {
				t.Errorf("diffID = %v, want sha256 of the tar %v", diffID, want)
			}
			names := tarNames(t, layer.Bytes())
			if got, want := strings.Join(names, ","), ".wh.gone.txt,new.txt"; got != want {
				t.Errorf("layer entries = %s, want exactly %s", got, want)
			}
			dir, ok := s.Dir(diffID)
			if !ok {
				t.Fatal("committed layer missing from store")
			}
			if b, err := os.ReadFile(filepath.Join(dir, "new.txt")); err != nil || string(b) != "step output" {
				t.Errorf("store dir new.txt = %q, %v", b, err)
			}
			if _, err := os.Lstat(upper); !os.IsNotExist(err) {
				t.Errorf("upper still exists after Commit: %v", err)
			}
			if err := w.Remove(); err != nil {
				t.Errorf("Remove: %v", err)
			}
			if _, err := os.Lstat(filepath.Dir(w.Upper)); !os.IsNotExist(err) {
				t.Errorf("workspace dir left behind: %v", err)
			}
		})
	}
}

// TestMountPublicAPI drives Workspace.Mount with no lowers and with many,
// and checks that committing an identical result twice dedupes.
func TestMountPublicAPI(t *testing.T) {
	needRoot(t)
	s := openStore(t)
	many := ensureLayers(t, s, 120)
	var first v1.Hash
	for i, lowers := range [][]string{nil, many, nil} {
		w, err := s.NewWorkspace()
		if err != nil {
			t.Fatal(err)
		}
		unmount, err := w.Mount(lowers)
		if err != nil {
			t.Fatalf("Mount(%d lowers): %v", len(lowers), err)
		}
		if err := os.WriteFile(filepath.Join(w.Merged, "out"), []byte("same"), 0o644); err != nil {
			t.Fatal(err)
		}
		epoch := time.Unix(0, 0)
		if err := os.Chtimes(filepath.Join(w.Merged, "out"), epoch, epoch); err != nil {
			t.Fatal(err)
		}
		if err := unmount(); err != nil {
			t.Fatal(err)
		}
		diffID, err := s.Commit(w, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = diffID
		} else if diffID != first {
			t.Errorf("run %d: diffID %v differs from %v for identical upper", i, diffID, first)
		}
		if err := w.Remove(); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := s.Dir(first); !ok {
		t.Error("deduplicated layer missing")
	}
}

func TestMountReadOnly(t *testing.T) {
	needRoot(t)
	s := openStore(t)
	tests := []struct {
		name   string
		lowers int
		see    string // file that must be visible
	}{
		{"empty", 0, ""},
		{"single bind", 1, "bottom.txt"},
		{"overlay of 3", 3, "bottom.txt"},
		{"overlay of 130", 130, "f65.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lowers []string
			if tt.lowers > 0 {
				lowers = ensureLayers(t, s, tt.lowers)
			}
			target := filepath.Join(t.TempDir(), "ro")
			unmount, err := MountReadOnly(lowers, target)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { unmount() })
			err = os.WriteFile(filepath.Join(target, "x"), nil, 0o644)
			if !errors.Is(err, unix.EROFS) {
				t.Errorf("write into read-only view: err = %v, want EROFS", err)
			}
			if tt.see != "" {
				if _, err := os.Stat(filepath.Join(target, tt.see)); err != nil {
					t.Errorf("%s not visible: %v", tt.see, err)
				}
			} else if ents, err := os.ReadDir(target); err != nil || len(ents) != 0 {
				t.Errorf("empty view has %v, %v", ents, err)
			}
			if tt.lowers > 2 {
				if _, err := os.Stat(filepath.Join(target, "hidden.txt")); !os.IsNotExist(err) {
					t.Errorf("whiteout not applied in read-only overlay: %v", err)
				}
			}
			if err := unmount(); err != nil {
				t.Fatal(err)
			}
			if mounted, err := isMountPoint(target); err != nil || mounted {
				t.Errorf("still mounted after unmount: %v %v", mounted, err)
			}
		})
	}
}

func TestLegacyOverlayData(t *testing.T) {
	long := "/" + strings.Repeat("x", 100)
	var many []string
	for range 50 {
		many = append(many, long)
	}
	tests := []struct {
		name   string
		cfg    overlayConfig
		want   string
		legacy bool
	}{
		{
			name:   "read-write",
			cfg:    overlayConfig{lowers: []string{"/l/2", "/l/1"}, upper: "/w/u", work: "/w/w"},
			want:   "lowerdir=/l/2:/l/1,upperdir=/w/u,workdir=/w/w,redirect_dir=off,metacopy=off,index=off",
			legacy: true,
		},
		{
			name:   "read-only",
			cfg:    overlayConfig{lowers: []string{"/l/2", "/l/1"}, readOnly: true},
			want:   "lowerdir=/l/2:/l/1,redirect_dir=off,metacopy=off,index=off",
			legacy: true,
		},
		{
			name:   "user namespace",
			cfg:    overlayConfig{lowers: []string{"/l/2", "/l/1"}, upper: "/w/u", work: "/w/w", userXattr: true},
			want:   "lowerdir=/l/2:/l/1,upperdir=/w/u,workdir=/w/w,userxattr,redirect_dir=nofollow,metacopy=off,index=off",
			legacy: true,
		},
		{name: "colon in a lower", cfg: overlayConfig{lowers: []string{"/l/a:b", "/l/1"}}},
		{name: "comma in upper", cfg: overlayConfig{lowers: []string{"/l/1", "/l/2"}, upper: "/u,x", work: "/w"}},
		{name: "longer than a page", cfg: overlayConfig{lowers: many}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := legacyOverlayData(tt.cfg)
			if ok != tt.legacy || got != tt.want {
				t.Errorf("legacyOverlayData = %q, %v; want %q, %v", got, ok, tt.want, tt.legacy)
			}
		})
	}
}

// TestMountNoRedirects: renaming a lower dir must fail with EXDEV (tools then
// copy), never record a redirect xattr pointing into another layer.
func TestMountNoRedirects(t *testing.T) {
	needRoot(t)
	s := openStore(t)
	b := makeTar(t, tarEntry{name: "d/", typ: tar.TypeDir, mode: 0o755}, tarEntry{name: "d/x", body: "x"})
	lower, err := s.Ensure(diffIDOf(b), opener(b))
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.NewWorkspace()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Remove() })
	unmount, err := w.Mount([]string{lower})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unmount() })
	err = os.Rename(filepath.Join(w.Merged, "d"), filepath.Join(w.Merged, "e"))
	if !errors.Is(err, unix.EXDEV) {
		t.Errorf("rename of a lower dir: err = %v, want EXDEV (redirect_dir=off)", err)
	}
}
