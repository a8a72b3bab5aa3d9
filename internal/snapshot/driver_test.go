package snapshot

import (
	"archive/tar"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/hushtest"
)

// TestNormalizeFuseUpper: an upper dir in fuse-overlayfs's rootless form (its own opaque
// xattr and two marker entries in every dir a step made) becomes the kernel's
// user-namespace form, which writes the same layer as an upper the kernel's overlayfs
// made: a dir that replaced one of a lower stays opaque, a new one does not.
func TestNormalizeFuseUpper(t *testing.T) {
	hushtest.RequireRootFor(t, "makes whiteout device nodes")
	fuse, kernel, lower := t.TempDir(), t.TempDir(), t.TempDir()
	if err := buildEntry(lower, "dir e 0755 0 0"); err != nil {
		t.Fatal(err)
	}
	tree := []string{"dir e 0755 0 0", "file e/new 0644 0 0 new", "dir n 0700 0 0", "whiteout gone"}
	for _, line := range tree {
		for _, dir := range []string{fuse, kernel} {
			if err := buildEntry(dir, line); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, d := range []string{"e", "n"} {
		for _, line := range []string{"file " + d + "/" + opaqueMarker + " 0700 0 0", "whiteout " + d + "/.wh..opq", "xattr " + d + " " + fuseOpaqueXattr + " y"} {
			if err := buildEntry(fuse, line); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := buildEntry(kernel, "xattr e "+userOpaqueXattr+" y"); err != nil {
		t.Fatal(err)
	}
	setAllTimes(t, fuse, fixtureTime)
	setAllTimes(t, kernel, fixtureTime)
	if err := normalizeFuseUpper(fuse, []string{lower}); err != nil {
		t.Fatal(err)
	}
	got, want := layerBytes(t, fuse), layerBytes(t, kernel)
	if !bytes.Equal(got, want) {
		t.Errorf("normalized fuse upper writes\n%s\nwant\n%s", listing(t, got), listing(t, want))
	}
	if l := listing(t, got); !strings.Contains(l, "e/.wh..wh..opq") || strings.Contains(l, "n/.wh..wh..opq") {
		t.Errorf("want e (replacing a lower dir) opaque and n (new) not:\n%s", l)
	}
	if _, err := lgetxattr(filepath.Join(fuse, "e"), fuseOpaqueXattr); !isNoXattr(err) {
		t.Errorf("fuse-overlayfs's xattr left on e: %v", err)
	}
}

// TestFuseDriverStepAndCommit runs a step's changes through fuse-overlayfs: a file
// removed, a lower dir replaced by a new one (opaque), a new file; the committed layer
// holds exactly those changes, and as a lower of the kernel's overlayfs it hides the
// replaced dir's old content.
func TestFuseDriverStepAndCommit(t *testing.T) {
	needRoot(t)
	bin := hushtest.RequireBinary(t, "fuse-overlayfs")
	s := openStore(t)
	b := makeTar(t, tarEntry{name: "e/", typ: tar.TypeDir, mode: 0o755}, tarEntry{name: "e/old", body: "old"},
		tarEntry{name: "gone.txt", body: "gone"})
	lower, err := s.Ensure(diffIDOf(b), opener(b))
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.NewWorkspace()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Remove() })
	unmount, err := Driver{Fuse: bin}.Mount(w, []string{lower})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unmount() })
	m := func(p string) string { return filepath.Join(w.Merged, p) }
	for _, step := range [][]string{{"rm", m("gone.txt")}, {"rm", "-r", m("e")}, {"mkdir", m("e")}, {"touch", m("e/new")}} {
		if out, err := exec.Command(step[0], step[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", step, err, out)
		}
	}
	if err := os.Mkdir(m("new"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unmount(); err != nil {
		t.Fatal(err)
	}
	var layer bytes.Buffer
	diffID, err := s.Commit(w, &layer)
	if err != nil {
		t.Fatal(err)
	}
	names := tarNames(t, layer.Bytes())
	if got, want := strings.Join(names, ","), ".wh.gone.txt,e/,e/.wh.old,e/new,new/"; got != want {
		t.Errorf("layer entries = %s, want %s", got, want)
	}
	top, _ := s.Dir(diffID)
	view := filepath.Join(t.TempDir(), "v")
	unview, err := DefaultDriver().MountReadOnly([]string{top, lower}, view)
	if err != nil {
		t.Fatal(err)
	}
	defer unview()
	if _, err := os.Stat(filepath.Join(view, "e", "old")); !os.IsNotExist(err) {
		t.Errorf("e/old shows through the committed opaque dir: %v", err)
	}
}
