package image

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// type=local never touches anything outside dest: a dest given as a symlink
// is written through into its target directory (as buildx does), a
// top-level entry of dest that is a symlink is replaced as a link (what it
// points to stays), and a dest that is or resolves to / is refused.
func TestExportRootfsDestinations(t *testing.T) {
	img := simpleImage(t, "dest")
	t.Run("symlink dest is written through", func(t *testing.T) {
		dir := t.TempDir()
		target := filepath.Join(dir, "target")
		if err := os.Mkdir(target, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(target, "mine"), []byte("mine"), 0o644); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, "link")
		if err := os.Symlink("target", link); err != nil {
			t.Fatal(err)
		}
		if err := ExportRootfs(img, link); err != nil {
			t.Fatal(err)
		}
		if l, err := os.Readlink(link); err != nil || l != "target" {
			t.Fatalf("link replaced: %q %v", l, err)
		}
		if b, err := os.ReadFile(filepath.Join(target, "etc", "who")); err != nil || string(b) != "dest" {
			t.Fatalf("target/etc/who = %q, %v", b, err)
		}
		if b, err := os.ReadFile(filepath.Join(target, "mine")); err != nil || string(b) != "mine" {
			t.Fatalf("unrelated file in the target = %q, %v", b, err)
		}
		if got := dirNames(t, dir); !slices.Equal(got, []string{"link", "target"}) {
			t.Fatalf("left %v", got)
		}
	})
	t.Run("top-level symlink entry replaced as a link", func(t *testing.T) {
		outside := t.TempDir()
		if err := os.WriteFile(filepath.Join(outside, "who"), []byte("outside"), 0o644); err != nil {
			t.Fatal(err)
		}
		dest := t.TempDir()
		if err := os.Symlink(outside, filepath.Join(dest, "etc")); err != nil {
			t.Fatal(err)
		}
		if err := ExportRootfs(img, dest); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(filepath.Join(dest, "etc")); err != nil || !fi.IsDir() {
			t.Fatalf("dest/etc = %v, %v; want the image's directory", fi, err)
		}
		if b, err := os.ReadFile(filepath.Join(outside, "who")); err != nil || string(b) != "outside" {
			t.Fatalf("the link's target was touched: %q, %v", b, err)
		}
		if got := dirNames(t, outside); !slices.Equal(got, []string{"who"}) {
			t.Fatalf("outside dir now holds %v", got)
		}
	})
	for _, root := range []string{"/", "/tmp/..", "link-to-root"} {
		t.Run("refuses "+root, func(t *testing.T) {
			dir := t.TempDir()
			dest := root
			if root == "link-to-root" {
				dest = filepath.Join(dir, "link")
				if err := os.Symlink("/", dest); err != nil {
					t.Fatal(err)
				}
			}
			err := ExportRootfs(img, dest)
			if err == nil || !strings.Contains(err.Error(), "is the root directory") {
				t.Fatalf("err = %v, want a root directory refusal", err)
			}
			if _, err := os.Stat("/etc/who"); err == nil {
				t.Fatal("/etc/who written")
			}
		})
	}
}
