package image

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestExportRootfsWhiteouts(t *testing.T) {
	lower := layerOf(t, types.OCILayer,
		entry{name: "dir/", typ: tar.TypeDir},
		entry{name: "dir/gone", body: "deleted by layer 2"},
		entry{name: "dir/kept", body: "kept"},
		entry{name: "opq/", typ: tar.TypeDir},
		entry{name: "opq/old", body: "hidden by opaque"},
		entry{name: "opq/sub/", typ: tar.TypeDir},
		entry{name: "opq/sub/deep", body: "hidden by opaque"},
		entry{name: "wholedir/", typ: tar.TypeDir},
		entry{name: "wholedir/f", body: "dir whited out"},
		entry{name: "overwritten", body: "old"},
		entry{name: "suid", body: "s", mode: 0o4755},
	)
	upper := layerOf(t, types.OCILayer,
		entry{name: "dir/", typ: tar.TypeDir},
		entry{name: "dir/.wh.gone", typ: tar.TypeReg},
		entry{name: "opq/", typ: tar.TypeDir},
		entry{name: "opq/.wh..wh..opq", typ: tar.TypeReg},
		entry{name: "opq/new", body: "new"},
		entry{name: ".wh.wholedir", typ: tar.TypeReg},
		entry{name: "overwritten", body: "new"},
		entry{name: "link", typ: tar.TypeSymlink, linkname: "dir/kept"},
		entry{name: "hard", typ: tar.TypeLink, linkname: "dir/kept"},
		entry{name: "escape", typ: tar.TypeSymlink, linkname: "/etc"},
		entry{name: "escape/planted", body: "must stay inside"},
	)
	img := testImage(t, "rootfs", lower, upper)
	dir := filepath.Join(t.TempDir(), "a", "rootfs") // parents created
	if err := ExportRootfs(img, dir); err != nil {
		t.Fatalf("ExportRootfs: %v", err)
	}
	tests := []struct {
		path    string
		want    string // file content; "" with exists=false means absent
		exists  bool
		symlink string
		mode    os.FileMode
	}{
		{path: "dir/kept", want: "kept", exists: true},
		{path: "dir/gone"},
		{path: "opq/new", want: "new", exists: true},
		{path: "opq/old"},
		{path: "opq/sub"},
		{path: "wholedir"},
		{path: "overwritten", want: "new", exists: true},
		{path: "link", exists: true, symlink: "dir/kept"},
		{path: "hard", want: "kept", exists: true},
		// An export lands on the host: set-id bits are cleared (docs/differences.md).
		{path: "suid", want: "s", exists: true, mode: 0o755},
	}
	for _, tt := range tests {
		p := filepath.Join(dir, tt.path)
		fi, err := os.Lstat(p)
		if !tt.exists {
			if !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s exists (err %v), want it whited out", tt.path, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.path, err)
			continue
		}
		if tt.symlink != "" {
			if target, err := os.Readlink(p); err != nil || target != tt.symlink {
				t.Errorf("%s -> %q (%v), want %q", tt.path, target, err, tt.symlink)
			}
			continue
		}
		if b, err := os.ReadFile(p); err != nil || string(b) != tt.want {
			t.Errorf("%s = %q (%v), want %q", tt.path, b, err, tt.want)
		}
		if tt.mode != 0 && fi.Mode() != tt.mode {
			t.Errorf("%s mode %v, want %v", tt.path, fi.Mode(), tt.mode)
		}
	}
	if _, err := os.Stat("/etc/planted"); err == nil {
		t.Fatal("a symlink in the image let a file escape to /etc/planted")
	}

}

func TestExportRootfsIntoExistingDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "unrelated"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc"), []byte("replaced by the image dir"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ExportRootfs(simpleImage(t, "existing"), dir); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "unrelated")); err != nil || string(b) != "mine" {
		t.Fatalf("unrelated file = %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "etc", "who")); err != nil || string(b) != "existing" {
		t.Fatalf("etc/who = %q, %v", b, err)
	}
	if left := dirNames(t, filepath.Dir(dir)); len(left) != 1 {
		t.Fatalf("temp dirs left beside the destination: %v", left)
	}
}

// TestExportRootfsMergesDirectories: exporting into a dir whose subdirectory the image also
// has keeps the user's files there, as buildx's local exporter merges; a file the image has
// replaces the user's of the same name.
func TestExportRootfsMergesDirectories(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"etc/mine": "kept", "etc/who": "replaced"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := ExportRootfs(simpleImage(t, "from-image"), dir); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"etc/mine": "kept", "etc/who": "from-image"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", name, b, err, want)
		}
	}
}
