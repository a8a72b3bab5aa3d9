package image

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/hush-build/hush/internal/hushtest"
)

// dockerTypedImage is an image with docker schema2 media types, the way
// many registry images come.
func dockerTypedImage(t *testing.T) v1.Image {
	t.Helper()
	img := testImage(t, "docker-typed", layerOf(t, types.DockerLayer, entry{name: "bin/", typ: tar.TypeDir}, entry{name: "bin/tool", body: "#!/bin/sh\n", mode: 0o755}))
	img = mutate.MediaType(img, types.DockerManifestSchema2)
	return mutate.ConfigMediaType(img, types.DockerConfigJSON)
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestWriteOCILayout(t *testing.T) {
	tests := []struct {
		name  string
		img   func(*testing.T) v1.Image
		names []string
		tag   string // for umoci and skopeo oci:DIR:TAG
	}{
		{name: "oci", img: func(t *testing.T) v1.Image { return simpleImage(t, "oci") }, names: []string{"example.com/app:v1"}, tag: "v1"},
		{name: "docker-types", img: dockerTypedImage, names: []string{"busybox"}, tag: "latest"},
		{name: "unnamed", img: func(t *testing.T) v1.Image { return simpleImage(t, "none") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := tt.img(t)
			dir := filepath.Join(t.TempDir(), "out")
			if err := WriteOCILayout(mustSingle(t, img), dir, tt.names); err != nil {
				t.Fatalf("WriteOCILayout: %v", err)
			}
			ii, err := layout.ImageIndexFromPath(dir)
			if err != nil {
				t.Fatal(err)
			}
			im, err := ii.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			if len(im.Manifests) != 1 {
				t.Fatalf("index has %d manifests, want 1", len(im.Manifests))
			}
			d := im.Manifests[0]
			if d.MediaType != types.OCIManifestSchema1 {
				t.Fatalf("media type %s, want OCI manifest", d.MediaType)
			}
			if got := d.Annotations[AnnotationRefName]; got != tt.tag {
				t.Fatalf("ref.name = %q, want %q", got, tt.tag)
			}
			got, err := ii.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Image(got); err != nil {
				t.Fatalf("validate: %v", err)
			}
			if mustConfigName(t, got) != mustConfigName(t, img) {
				t.Fatal("image ID changed in the layout")
			}
			m, _ := got.Manifest()
			for _, l := range m.Layers {
				if l.MediaType != types.OCILayer {
					t.Fatalf("layer media type %s, want %s", l.MediaType, types.OCILayer)
				}
			}
			out := run(t, hushtest.RequireBinary(t, "skopeo"), "inspect", "--raw", "oci:"+dir)
			if !strings.Contains(out, string(types.OCIManifestSchema1)) {
				t.Fatalf("skopeo inspect: %s", out)
			}
			if tt.tag != "" {
				umoci := hushtest.RequireBinary(t, "umoci")
				if out := run(t, umoci, "ls", "--layout", dir); strings.TrimSpace(out) != tt.tag {
					t.Fatalf("umoci ls = %q, want %q", out, tt.tag)
				}
				bundle := filepath.Join(t.TempDir(), "bundle")
				run(t, umoci, "unpack", "--image", dir+":"+tt.tag, bundle)
				if _, err := os.Stat(filepath.Join(bundle, "rootfs")); err != nil {
					t.Fatalf("umoci unpack made no rootfs: %v", err)
				}
			}
		})
	}
}

func TestToolsAcceptSinks(t *testing.T) {
	hushtest.RequireBinary(t, "skopeo")
	hushtest.RequireBinary(t, "umoci")
	img := simpleImage(t, "tools")
	dir := t.TempDir()
	layoutDir := filepath.Join(dir, "layout")
	if err := WriteOCILayout(mustSingle(t, img), layoutDir, []string{"app:1"}); err != nil {
		t.Fatal(err)
	}
	ociTar := filepath.Join(dir, "oci.tar")
	if err := WriteOCIArchive(mustSingle(t, img), ociTar, []string{"app:1"}); err != nil {
		t.Fatal(err)
	}
	dockerTar := filepath.Join(dir, "docker.tar")
	if err := WriteDockerArchive(img, dockerTar, []string{"app:1"}); err != nil {
		t.Fatal(err)
	}
	want := mustSingle(t, img).Descriptor.Digest.String()
	for _, ref := range []string{"oci:" + layoutDir, "oci:" + layoutDir + ":1", "oci-archive:" + ociTar, "oci-archive:" + ociTar + ":1"} {
		if out := run(t, "skopeo", "inspect", "--format", "{{.Digest}}", ref); strings.TrimSpace(out) != want {
			t.Errorf("skopeo inspect %s digest = %q, want %s", ref, out, want)
		}
	}
	// Docker archives carry the config, not the manifest: check the layers.
	out := run(t, "skopeo", "inspect", "--config", "docker-archive:"+dockerTar)
	if !strings.Contains(out, mustLayerDiff(t, img)) {
		t.Errorf("skopeo inspect docker-archive config lacks the diff_id:\n%s", out)
	}
	if out := run(t, "umoci", "ls", "--layout", layoutDir); strings.TrimSpace(out) != "1" {
		t.Errorf("umoci ls = %q, want 1", out)
	}
}

func mustLayerDiff(t *testing.T, img v1.Image) string {
	t.Helper()
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cfg.RootFS.DiffIDs[0].String()
}

func TestDockerArchiveSink(t *testing.T) {
	tests := []struct {
		names    []string
		wantTags []string
	}{
		{names: []string{"app:1", "docker.io/other/app:2"}, wantTags: []string{"app:1", "other/app:2"}},
		{names: []string{"ghcr.io/o/r:v1", "ghcr.io/o/r@sha256:" + strings.Repeat("0", 64)}, wantTags: []string{"ghcr.io/o/r:v1"}},
		{names: nil, wantTags: nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.names, ","), func(t *testing.T) {
			img := simpleImage(t, "archives")
			p := filepath.Join(t.TempDir(), "docker.tar")
			if err := WriteDockerArchive(img, p, tt.names); err != nil {
				t.Fatal(err)
			}
			m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(p) })
			if err != nil {
				t.Fatal(err)
			}
			if len(m) != 1 {
				t.Fatalf("manifest.json has %d images, want 1", len(m))
			}
			got := slices.Clone(m[0].RepoTags)
			slices.Sort(got)
			if !slices.Equal(got, tt.wantTags) {
				t.Fatalf("RepoTags = %v, want %v", got, tt.wantTags)
			}
			loaded, err := tarball.ImageFromPath(p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Image(loaded); err != nil {
				t.Fatalf("validate: %v", err)
			}
			if mustConfigName(t, loaded) != mustConfigName(t, img) {
				t.Fatal("image ID changed in the docker archive")
			}
		})
	}
}

func TestSinksAreAtomic(t *testing.T) {
	good := simpleImage(t, "good")
	bad, err := mutate.AppendLayers(good, failingLayer{layerOf(t, types.OCILayer, entry{name: "big", body: strings.Repeat("x", 4096)})})
	if err != nil {
		t.Fatal(err)
	}
	sinks := []struct {
		name  string
		write func(v1.Image, string) error
	}{
		{"oci-layout", func(img v1.Image, p string) error { return WriteOCILayout(mustSingle(t, img), p, []string{"a:1"}) }},
		{"oci-archive", func(img v1.Image, p string) error { return WriteOCIArchive(mustSingle(t, img), p, []string{"a:1"}) }},
		{"docker-archive", func(img v1.Image, p string) error { return WriteDockerArchive(img, p, []string{"a:1"}) }},
		{"rootfs", func(img v1.Image, p string) error { return ExportRootfs(img, p) }},
		{"rootfs-tar", func(img v1.Image, p string) error { return WriteRootfsTar(img, p) }},
	}
	for _, sk := range sinks {
		t.Run(sk.name, func(t *testing.T) {
			parent := t.TempDir()
			dst := filepath.Join(parent, "out")
			err := sk.write(bad, dst)
			if err == nil {
				t.Fatal("sink succeeded with a failing layer")
			}
			if left := dirNames(t, parent); len(left) != 0 {
				t.Fatalf("failed write left %v in %s (err %v)", left, parent, err)
			}
			// A failed overwrite keeps the previous good output.
			if err := sk.write(good, dst); err != nil {
				t.Fatal(err)
			}
			before := dirNames(t, parent)
			if err := sk.write(bad, dst); err == nil {
				t.Fatal("sink succeeded with a failing layer")
			}
			if after := dirNames(t, parent); !slices.Equal(before, after) {
				t.Fatalf("failed overwrite changed %s: %v -> %v", parent, before, after)
			}
		})
	}
}

func TestOCILayoutRefusesForeignDir(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "precious.txt")
	if err := os.WriteFile(keep, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteOCILayout(mustSingle(t, simpleImage(t, "x")), dir, nil); err == nil {
		t.Fatal("WriteOCILayout replaced a non-layout directory")
	}
	if _, err := os.Stat(keep); err != nil {
		t.Fatalf("unrelated file gone: %v", err)
	}
	// An existing layout is replaced.
	if err := WriteOCILayout(mustSingle(t, simpleImage(t, "1")), filepath.Join(dir, "l"), []string{"a:1"}); err != nil {
		t.Fatal(err)
	}
	img2 := simpleImage(t, "2")
	if err := WriteOCILayout(mustSingle(t, img2), filepath.Join(dir, "l"), []string{"a:2"}); err != nil {
		t.Fatal(err)
	}
	ii, err := layout.ImageIndexFromPath(filepath.Join(dir, "l"))
	if err != nil {
		t.Fatal(err)
	}
	im, _ := ii.IndexManifest()
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != mustSingle(t, img2).Descriptor.Digest || im.Manifests[0].Annotations[AnnotationImageName] != "docker.io/library/a:2" {
		t.Fatalf("replaced layout index = %+v", im.Manifests)
	}
	if errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
}
