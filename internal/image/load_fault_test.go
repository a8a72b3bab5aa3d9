package image

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// tarFile is one member of a hand-built archive fixture.
type tarFile struct {
	name string
	body []byte
}

// fixtureImage is one image of a hand-built archive: a tag, a raw config
// and one layer (an uncompressed tar).
type fixtureImage struct {
	tag    string
	config []byte
	layer  []byte
}

func sha(b []byte) v1.Hash {
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	return h
}

// newFixture is a valid one-layer image whose config lists the layer's diff_id.
func newFixture(t *testing.T, tag, body string) fixtureImage {
	t.Helper()
	layer := tarBytes(t, entry{name: "etc/", typ: tar.TypeDir}, entry{name: "etc/who", body: body})
	cfg := map[string]any{
		"architecture": runtime.GOARCH, "os": "linux", "created": "2024-01-01T00:00:00Z",
		"config": map[string]any{"Cmd": []string{"/bin/sh"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{sha(layer).String()}},
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return fixtureImage{tag: tag, config: b, layer: layer}
}

// dockerFiles lays images out like `docker save`: manifest.json, then per
// image cN.json and lN.tar (uncompressed).
func dockerFiles(t *testing.T, imgs ...fixtureImage) []tarFile {
	t.Helper()
	var man []map[string]any
	var files []tarFile
	for i, img := range imgs {
		c, l := fmt.Sprintf("c%d.json", i+1), fmt.Sprintf("l%d.tar", i+1)
		man = append(man, map[string]any{"Config": c, "RepoTags": []string{img.tag}, "Layers": []string{l}})
		files = append(files, tarFile{c, img.config}, tarFile{l, img.layer})
	}
	b, err := json.Marshal(man)
	if err != nil {
		t.Fatal(err)
	}
	return append([]tarFile{{"manifest.json", b}}, files...)
}

// ociFiles lays images out as an OCI layout tar with gzip layers; each
// image's manifest is named in index.json by its tag.
func ociFiles(t *testing.T, imgs ...fixtureImage) []tarFile {
	t.Helper()
	files := []tarFile{{"oci-layout", []byte(ociLayoutContent)}}
	var descs []map[string]any
	for _, img := range imgs {
		gz := bytes.NewBuffer(gzipBytes(t, img.layer))
		man, err := json.Marshal(map[string]any{
			"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
			"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(img.config).String(), "size": len(img.config)},
			"layers": []map[string]any{{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(gz.Bytes()).String(), "size": gz.Len()}},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range [][]byte{img.config, gz.Bytes(), man} {
			files = append(files, tarFile{"blobs/sha256/" + sha(b).Hex, b})
		}
		descs = append(descs, map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json",
			"digest": sha(man).String(), "size": len(man), "annotations": map[string]string{AnnotationImageName: img.tag}})
	}
	idx, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": descs})
	if err != nil {
		t.Fatal(err)
	}
	return append(files, tarFile{"index.json", idx})
}

func writeTar(t *testing.T, files []tarFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(f.body))}); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.body)
	}
	tw.Close()
	return buf.Bytes()
}

// replace returns files with the member called name given body (or dropped when body is nil).
func replace(files []tarFile, name string, body []byte) []tarFile {
	var out []tarFile
	for _, f := range files {
		if f.name == name {
			if body == nil {
				continue
			}
			f.body = body
		}
		out = append(out, f)
	}
	return out
}

// TestLoadIsAllOrNothing loads archives whose second image (or the archive
// itself) is broken: Load must fail naming the archive and the problem, tag
// nothing, and leave no blob behind that it added.
func TestLoadIsAllOrNothing(t *testing.T) {
	good, bad := newFixture(t, "good:1", "good"), newFixture(t, "bad:1", "bad")
	otherLayer := tarBytes(t, entry{name: "etc/", typ: tar.TypeDir}, entry{name: "etc/who", body: "tampered"})
	ociBad := ociFiles(t, bad)
	badMan := ociBad[len(ociBad)-2] // the bad image's manifest blob
	badCfgBlob, badLayerBlob := ociBad[1].name, ociBad[2].name
	tests := []struct {
		name    string
		archive func() []byte
		want    []string // substrings of the error
	}{
		{
			name:    "docker/second-layer-not-its-diff-id",
			archive: func() []byte { return writeTar(t, replace(dockerFiles(t, good, bad), "l2.tar", otherLayer)) },
			want:    []string{"bad:1", "l2.tar", "diff_id", sha(bad.layer).String()},
		},
		{
			name:    "docker/second-config-not-json",
			archive: func() []byte { return writeTar(t, replace(dockerFiles(t, good, bad), "c2.json", []byte("not json {"))) },
			want:    []string{"bad:1", "config"},
		},
		{
			name:    "docker/second-layer-missing",
			archive: func() []byte { return writeTar(t, replace(dockerFiles(t, good, bad), "l2.tar", nil)) },
			want:    []string{"bad:1", "l2.tar"},
		},
		{
			name: "docker/truncated-mid-entry",
			archive: func() []byte {
				b := writeTar(t, dockerFiles(t, good, bad))
				return b[:len(b)-1024-len(bad.layer)/2]
			},
			want: []string{"truncated"},
		},
		{
			name: "docker/truncated-at-entry-boundary",
			archive: func() []byte {
				files := dockerFiles(t, good, bad)
				b := writeTar(t, files[:len(files)-1])
				return b[:len(b)-1024] // no end-of-archive blocks, l2.tar gone
			},
			want: []string{"bad:1", "l2.tar"},
		},
		{
			name: "docker/truncated-gzip",
			archive: func() []byte {
				b := gzipBytes(t, writeTar(t, dockerFiles(t, good, bad)))
				return b[:len(b)/2]
			},
			want: []string{"truncated"},
		},
		{
			name:    "oci/second-layer-blob-missing",
			archive: func() []byte { return writeTar(t, replace(ociFiles(t, good, bad), badLayerBlob, nil)) },
			want:    []string{"bad:1", "missing", strings.TrimPrefix(badLayerBlob, "blobs/sha256/")},
		},
		{
			name:    "oci/second-config-blob-missing",
			archive: func() []byte { return writeTar(t, replace(ociFiles(t, good, bad), badCfgBlob, nil)) },
			want:    []string{"bad:1", "missing", strings.TrimPrefix(badCfgBlob, "blobs/sha256/")},
		},
		{
			name:    "oci/second-manifest-missing",
			archive: func() []byte { return writeTar(t, replace(ociFiles(t, good, bad), badMan.name, nil)) },
			want:    []string{"bad:1", "missing", strings.TrimPrefix(badMan.name, "blobs/sha256/")},
		},
		{
			name: "oci/second-layer-digest-mismatch",
			archive: func() []byte {
				return writeTar(t, replace(ociFiles(t, good, bad), badLayerBlob, gzipBytes(t, otherLayer)))
			},
			want: []string{"bad:1", "layer", "digest"},
		},
		{
			name: "oci/second-manifest-digest-mismatch",
			archive: func() []byte {
				return writeTar(t, replace(ociFiles(t, good, bad), badMan.name, append(slices.Clone(badMan.body), ' ')))
			},
			want: []string{"bad:1", "manifest", "digest"},
		},
		{
			name: "oci/second-config-not-json",
			archive: func() []byte {
				broken := bad
				broken.config = []byte("not json {")
				return writeTar(t, ociFiles(t, good, broken))
			},
			want: []string{"bad:1", "config"},
		},
		{
			name: "oci/second-layer-not-its-diff-id",
			archive: func() []byte {
				broken := bad
				broken.layer = otherLayer // config still names bad.layer's diff_id
				return writeTar(t, ociFiles(t, good, broken))
			},
			want: []string{"bad:1", "diff_id", sha(bad.layer).String()},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			if _, err := s.Put(simpleImage(t, "kept"), "kept:1"); err != nil {
				t.Fatal(err)
			}
			before, blobsBefore := mustList(t, s), dirNames(t, filepath.Join(s.Dir(), "blobs", "sha256"))
			p := filepath.Join(t.TempDir(), "broken.tar")
			if err := os.WriteFile(p, tt.archive(), 0o644); err != nil {
				t.Fatal(err)
			}
			names, err := s.Load(p, nil)
			if err == nil {
				t.Fatalf("Load = %v, want an error", names)
			}
			t.Logf("error: %v", err)
			for _, w := range append([]string{"loading " + p + ": "}, tt.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			assertStoreUnchanged(t, s, before, blobsBefore)
		})
	}
}

// TestLoadFixturesAreValid loads the unbroken fixtures, so the failures
// above come from the breakage and not from the fixture builders.
func TestLoadFixturesAreValid(t *testing.T) {
	good, bad := newFixture(t, "good:1", "good"), newFixture(t, "bad:1", "bad")
	for name, files := range map[string][]tarFile{"docker": dockerFiles(t, good, bad), "oci": ociFiles(t, good, bad)} {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			p := filepath.Join(t.TempDir(), "ok.tar")
			if err := os.WriteFile(p, writeTar(t, files), 0o644); err != nil {
				t.Fatal(err)
			}
			names, err := s.Load(p, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"docker.io/library/good:1", "docker.io/library/bad:1"}
			if !slices.Equal(names, want) {
				t.Fatalf("Load names %v, want %v", names, want)
			}
			for _, n := range want {
				if _, _, err := s.Image(n); err != nil {
					t.Errorf("Image(%s): %v", n, err)
				}
			}
		})
	}
}

// TestLoadPrepareRunsBeforeTagging: prepare sees each verified image before
// any tag exists, and its failure publishes nothing.
func TestLoadPrepareRunsBeforeTagging(t *testing.T) {
	good, bad := newFixture(t, "good:1", "good"), newFixture(t, "bad:1", "bad")
	s := newStore(t)
	before, blobsBefore := mustList(t, s), dirNames(t, filepath.Join(s.Dir(), "blobs", "sha256"))
	p := filepath.Join(t.TempDir(), "ok.tar")
	if err := os.WriteFile(p, writeTar(t, dockerFiles(t, good, bad)), 0o644); err != nil {
		t.Fatal(err)
	}
	errPrepare := errors.New("unpack failed")
	var seen []v1.Hash
	_, err := s.Load(p, func(img v1.Image) error {
		if l := mustList(t, s); len(l) != 0 {
			t.Errorf("prepare ran with images already listed: %+v", l)
		}
		if _, err := img.Layers(); err != nil {
			t.Errorf("prepare got an unreadable image: %v", err)
		}
		seen = append(seen, mustConfigName(t, img))
		if len(seen) == 2 {
			return errPrepare
		}
		return nil
	})
	if !errors.Is(err, errPrepare) || !strings.Contains(err.Error(), "bad:1") {
		t.Fatalf("Load error %v, want the prepare error naming bad:1", err)
	}
	if want := []v1.Hash{sha(good.config), sha(bad.config)}; !slices.Equal(seen, want) {
		t.Fatalf("prepare saw %v, want %v", seen, want)
	}
	assertStoreUnchanged(t, s, before, blobsBefore)
}

func mustList(t *testing.T, s *Store) []Entry {
	t.Helper()
	l, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// assertStoreUnchanged checks the listing, the blob set and the temp dir.
func assertStoreUnchanged(t *testing.T, s *Store, before []Entry, blobsBefore []string) {
	t.Helper()
	if after := mustList(t, s); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("store listing changed:\nbefore %+v\nafter  %+v", before, after)
	}
	if after := dirNames(t, filepath.Join(s.Dir(), "blobs", "sha256")); !slices.Equal(after, blobsBefore) {
		t.Errorf("blobs changed:\nbefore %v\nafter  %v", blobsBefore, after)
	}
	if left := dirNames(t, filepath.Join(s.Dir(), tmpDirName)); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}
