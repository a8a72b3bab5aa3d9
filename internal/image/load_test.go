package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/klauspost/compress/zstd"
)

func TestLoad(t *testing.T) {
	img := simpleImage(t, "load")
	id := mustConfigName(t, img)
	tests := []struct {
		name      string
		write     func(string) error
		gzipIt    bool
		wantNames []string
	}{
		{
			name:      "docker-archive",
			write:     func(p string) error { return WriteDockerArchive(img, p, []string{"app:1", "ghcr.io/o/r:2"}) },
			wantNames: []string{"docker.io/library/app:1", "ghcr.io/o/r:2"},
		},
		{
			name:      "docker-archive-gzip",
			write:     func(p string) error { return WriteDockerArchive(img, p, []string{"app:1"}) },
			gzipIt:    true,
			wantNames: []string{"docker.io/library/app:1"},
		},
		{
			name:      "docker-archive-unnamed",
			write:     func(p string) error { return WriteDockerArchive(img, p, nil) },
			wantNames: []string{id.String()},
		},
		{
			name: "oci-archive",
			write: func(p string) error {
				return WriteOCIArchive(mustSingle(t, img), p, []string{"app:1", "ghcr.io/o/r:2"})
			},
			wantNames: []string{"docker.io/library/app:1", "ghcr.io/o/r:2"},
		},
		{
			name:      "oci-archive-unnamed",
			write:     func(p string) error { return WriteOCIArchive(mustSingle(t, img), p, nil) },
			wantNames: []string{id.String()},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "archive.tar")
			if err := tt.write(p); err != nil {
				t.Fatal(err)
			}
			if tt.gzipIt {
				gzipFile(t, p)
			}
			s := newStore(t)
			got, err := s.Load(p, nil)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.wantNames) {
				t.Fatalf("Load names = %v, want %v", got, tt.wantNames)
			}
			loaded, e, err := s.Image(id.String())
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Image(loaded); err != nil {
				t.Fatalf("validate: %v", err)
			}
			if e.ID != id {
				t.Fatalf("loaded ID %s, want %s", e.ID, id)
			}
			for _, n := range tt.wantNames {
				if strings.HasPrefix(n, "sha256:") {
					continue
				}
				if _, _, err := s.Image(n); err != nil {
					t.Errorf("Image(%s): %v", n, err)
				}
			}
			if left := dirNames(t, filepath.Join(s.Dir(), tmpDirName)); len(left) != 0 {
				t.Fatalf("temp files left: %v", left)
			}
		})
	}
}

func gzipFile(t *testing.T, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadRejectsOtherFiles(t *testing.T) {
	dir := t.TempDir()
	notTar := filepath.Join(dir, "x.txt")
	os.WriteFile(notTar, []byte("hello"), 0o644)
	plainTar := filepath.Join(dir, "x.tar")
	os.WriteFile(plainTar, tarBytes(t, entry{name: "etc/passwd", body: "root"}), 0o644)
	s := newStore(t)
	for _, p := range []string{notTar, plainTar, filepath.Join(dir, "missing.tar")} {
		if names, err := s.Load(p, nil); err == nil {
			t.Errorf("Load(%s) = %v, want error", filepath.Base(p), names)
		}
	}
	if l, _ := s.List(); len(l) != 0 {
		t.Fatalf("failed loads stored images: %+v", l)
	}
}

func TestImportThenHistory(t *testing.T) {
	rootfs := tarBytes(t,
		entry{name: "bin/", typ: tar.TypeDir},
		entry{name: "bin/sh", body: "#!fake shell", mode: 0o755},
		entry{name: "etc/", typ: tar.TypeDir},
		entry{name: "etc/os-release", body: "ID=test\n"},
	)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(rootfs)
	zw.Close()
	var zs bytes.Buffer
	zsw, _ := zstd.NewWriter(&zs)
	zsw.Write(rootfs)
	zsw.Close()
	tests := []struct {
		name    string
		input   []byte
		ref     string
		wantErr bool
	}{
		{name: "plain", input: rootfs, ref: "imported:1"},
		{name: "gzip", input: gz.Bytes(), ref: "imported:gz"},
		{name: "zstd", input: zs.Bytes(), ref: ""},
		{name: "not-a-tar", input: []byte(strings.Repeat("garbage!", 200)), ref: "bad", wantErr: true},
		{name: "empty", input: nil, ref: "bad", wantErr: true},
		{name: "bad-name", input: rootfs, ref: "Bad Name", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			e, err := s.Import(bytes.NewReader(tt.input), tt.ref)
			if tt.wantErr {
				if err == nil {
					t.Fatal("Import succeeded, want error")
				}
				if l, _ := s.List(); len(l) != 0 {
					t.Fatalf("failed import stored %+v", l)
				}
				if left := dirNames(t, filepath.Join(s.Dir(), tmpDirName)); len(left) != 0 {
					t.Fatalf("temp files left: %v", left)
				}
				return
			}
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			ref := tt.ref
			if ref == "" {
				ref = e.ID.String()
				if len(e.Names) != 0 {
					t.Fatalf("unnamed import has names %v", e.Names)
				}
			}
			img, _, err := s.Image(ref)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Image(img); err != nil {
				t.Fatalf("validate: %v", err)
			}
			cfg, _ := img.ConfigFile()
			if cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH {
				t.Fatalf("platform %s/%s", cfg.OS, cfg.Architecture)
			}
			m, _ := img.Manifest()
			if len(m.Layers) != 1 || m.Layers[0].MediaType != types.OCILayer {
				t.Fatalf("layers %+v, want one gzip OCI layer", m.Layers)
			}
			wantDiff, _, _ := v1.SHA256(bytes.NewReader(rootfs))
			rows, err := History(img, s.LayerSizes().Of)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1 {
				t.Fatalf("history rows %+v, want 1", rows)
			}
			r := rows[0]
			wantSize, _ := contentSize(bytes.NewReader(rootfs))
			if r.CreatedBy != "Imported from -" || r.ID != e.ID.String() || r.Layer != wantDiff.String() || r.Size != wantSize || r.EmptyLayer || r.Created.IsZero() {
				t.Fatalf("history row %+v, want image ID %s, layer %s, size %d", r, e.ID, wantDiff, wantSize)
			}
			// The rootfs comes back out unchanged.
			out := filepath.Join(t.TempDir(), "rootfs")
			if err := ExportRootfs(img, out); err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(filepath.Join(out, "etc", "os-release")); err != nil || string(b) != "ID=test\n" {
				t.Fatalf("exported os-release = %q, %v", b, err)
			}
		})
	}
}

func TestLoadFromIndexPicksHostPlatform(t *testing.T) {
	// buildx writes index.json -> image index -> platform images (plus
	// attestation manifests); Load takes the linux/GOARCH image.
	host, other := simpleImage(t, "host"), simpleImage(t, "other")
	otherArch := "s390x"
	if runtime.GOARCH == otherArch {
		otherArch = "amd64"
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: other, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: otherArch}}},
		mutate.IndexAddendum{Add: host, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
	)
	dir := filepath.Join(t.TempDir(), "layout")
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{AnnotationRefName: "v3", AnnotationImageName: "example.com/multi:v3"})); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "oci.tar")
	tarDir(t, dir, archive)
	s := newStore(t)
	names, err := s.Load(archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"example.com/multi:v3"}) {
		t.Fatalf("Load names %v", names)
	}
	_, e, err := s.Image("example.com/multi:v3")
	if err != nil {
		t.Fatal(err)
	}
	if e.Digest != mustDigest(t, host) {
		t.Fatalf("loaded %s, want the host platform image %s", e.Digest, mustDigest(t, host))
	}
}

// tarDir writes the regular files under dir into a tar at dst.
func tarDir(t *testing.T, dir, dst string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tw.Close()
	if err := os.WriteFile(dst, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
