package snapshot

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hush-build/hush/internal/hushtest"
)

// TestWriteUpperDropsUnchangedDirs: a directory an upper holds only because something
// below it came and went (same mode and owner as in the lowers, nothing below it) is left
// out of the layer and removed from the upper, as BuildKit's differ leaves it out; new
// directories, changed ones, parents of changes and opaque ones stay.
func TestWriteUpperDropsUnchangedDirs(t *testing.T) {
	lower, upper := t.TempDir(), t.TempDir()
	for _, d := range []string{"tmp", "etc", "chg", "deep/a/b"} {
		mustMkdir(t, filepath.Join(lower, d), 0o755)
	}
	for _, d := range []string{"tmp", "etc", "chg", "new", "deep/a/b"} {
		mustMkdir(t, filepath.Join(upper, d), 0o755)
	}
	if err := os.Chmod(filepath.Join(upper, "chg"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(upper, "etc", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeUpper(upper, []string{lower}, &buf); err != nil {
		t.Fatal(err)
	}
	got := tarNames(t, buf.Bytes())
	want := []string{"chg/", "etc/", "etc/f", "new/"}
	if !slices.Equal(got, want) {
		t.Errorf("layer entries = %q, want %q", got, want)
	}
	for _, gone := range []string{"tmp", "deep"} {
		if _, err := os.Lstat(filepath.Join(upper, gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still in the upper (%v); the upper must hold what the tar holds", gone, err)
		}
	}
	// Without lowers (a first layer) every directory is new.
	var all bytes.Buffer
	if err := writeUpper(lower, nil, &all); err != nil {
		t.Fatal(err)
	}
	if n := len(tarNames(t, all.Bytes())); n != 6 {
		t.Errorf("a layer without lowers has %d entries, want 6", n)
	}
}

func mustMkdir(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(p, mode); err != nil {
		t.Fatal(err)
	}
}

func tarNames(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.Name)
	}
}

// TestWriteUpperExpandsOpaqueDirs: an opaque upper directory is written as BuildKit's
// differ writes it: a whiteout for each name the lowers show there and the upper lacks,
// no opaque marker; one the lowers lack is not opaque at all.
func TestWriteUpperExpandsOpaqueDirs(t *testing.T) {
	hushtest.RequireRootFor(t, "makes a whiteout device")
	lower1, lower2, upper := t.TempDir(), t.TempDir(), t.TempDir()
	mustMkdir(t, filepath.Join(lower2, "data", "sub"), 0o755)
	mustMkdir(t, filepath.Join(lower2, "data", "gone"), 0o755)
	mustMkdir(t, filepath.Join(lower1, "data"), 0o755)
	if err := os.WriteFile(filepath.Join(lower1, "data", "keep"), []byte("k"), 0o644); err != nil {
		t.Fatal(err)
	}
	// lower1 deleted data/gone: a whiteout hides lower2's.
	if err := unix.Mknod(filepath.Join(lower1, "data", "gone"), unix.S_IFCHR, 0); err != nil {
		t.Fatalf("making a whiteout: %v", err)
	}
	for _, d := range []string{"data", "fresh"} {
		mustMkdir(t, filepath.Join(upper, d), 0o755)
		if err := unix.Setxattr(filepath.Join(upper, d), userOpaqueXattr, []byte("y"), 0); err != nil {
			t.Fatalf("setting %s: %v", userOpaqueXattr, err)
		}
	}
	if err := os.WriteFile(filepath.Join(upper, "data", "keep"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(upper, "fresh", "f"), []byte("f"), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeUpper(upper, []string{lower1, lower2}, &buf); err != nil {
		t.Fatal(err)
	}
	got := tarNames(t, buf.Bytes())
	want := []string{"data/", "data/.wh.sub", "data/keep", "fresh/", "fresh/f"}
	if !slices.Equal(got, want) {
		t.Errorf("layer entries = %q, want %q", got, want)
	}
}

// TestWriteUpperRecreatedDirsBelowOpaque: `rm -rf /a && mkdir -p /a/b/c` over a lower with
// a/b/old and a/b/c/x leaves a opaque and a/b, a/b/c plain in the upper (the kernel marks
// only the directory it replaced); the layer must still hide old and x, or applying it
// over the lowers brings back what the step deleted.
func TestWriteUpperRecreatedDirsBelowOpaque(t *testing.T) {
	hushtest.RequireRootFor(t, "sets a trusted.* or user.* overlay xattr")
	lower, upper := t.TempDir(), t.TempDir()
	mustMkdir(t, filepath.Join(lower, "a", "b", "c"), 0o755)
	for _, f := range []string{"a/b/old", "a/b/c/x", "a/top"} {
		if err := os.WriteFile(filepath.Join(lower, f), []byte("secret"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustMkdir(t, filepath.Join(upper, "a", "b", "c"), 0o755)
	if err := unix.Setxattr(filepath.Join(upper, "a"), userOpaqueXattr, []byte("y"), 0); err != nil {
		t.Fatalf("setting %s: %v", userOpaqueXattr, err)
	}
	if err := os.WriteFile(filepath.Join(upper, "a", "b", "new"), []byte("n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeUpper(upper, []string{lower}, &buf); err != nil {
		t.Fatal(err)
	}
	got := tarNames(t, buf.Bytes())
	want := []string{"a/", "a/.wh.top", "a/b/", "a/b/.wh.old", "a/b/c/", "a/b/c/.wh.x", "a/b/new"}
	if !slices.Equal(got, want) {
		t.Errorf("layer entries = %q, want %q", got, want)
	}
}

// TestLowerLookupsStayInTheLower: a layer's symlink a → HOST never makes hush look up
// HOST/b (an automount there would reach the network, and a match would show in the
// image): lowerPath, lowerDirState and inLowers stop at it.
func TestLowerLookupsStayInTheLower(t *testing.T) {
	lower, host := t.TempDir(), t.TempDir()
	mustMkdir(t, filepath.Join(host, "b"), 0o755)
	if err := os.Symlink(host, filepath.Join(lower, "a")); err != nil {
		t.Fatal(err)
	}
	if p, ok := lowerPath("a/b", []string{lower}); ok {
		t.Errorf("lowerPath(a/b) = %s through the lower's symlink", p)
	}
	if s := lowerDirState(lower, "a/b"); s == dirHere {
		t.Error("lowerDirState(a/b) went through the lower's symlink")
	}
	if inLowers([]string{lower}, "a/b") {
		t.Error("inLowers(a/b) went through the lower's symlink")
	}
	if !inLowers([]string{lower}, "a") {
		t.Error("inLowers(a) does not see the symlink itself")
	}
}
