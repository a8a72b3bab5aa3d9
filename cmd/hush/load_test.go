package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// loadFixture is one image of a hand-built docker archive: its tag and its
// one layer (whatever bytes; the config's diff_id is their digest unless
// diffID overrides it).
type loadFixture struct {
	tag, diffID string
	layer       []byte
}

func sha256Of(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// layerTar is a one-file layer tar.
func layerTar(t *testing.T, body string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "hello.txt", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(body))
	tw.Close()
	return buf.Bytes()
}

// dockerArchive writes a `docker save`-style archive of imgs to path.
func dockerArchive(t *testing.T, path string, imgs ...loadFixture) {
	t.Helper()
	var man []map[string]any
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, b []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(b))}); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	for i, img := range imgs {
		diffID := img.diffID
		if diffID == "" {
			diffID = sha256Of(img.layer)
		}
		cfg, err := json.Marshal(map[string]any{"architecture": runtime.GOARCH, "os": "linux",
			"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffID}}})
		if err != nil {
			t.Fatal(err)
		}
		c, l := fmt.Sprintf("c%d.json", i), fmt.Sprintf("l%d.tar", i)
		add(c, cfg)
		add(l, img.layer)
		man = append(man, map[string]any{"Config": c, "RepoTags": []string{img.tag}, "Layers": []string{l}})
	}
	b, err := json.Marshal(man)
	if err != nil {
		t.Fatal(err)
	}
	add("manifest.json", b)
	tw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLoadPublishesNothingOnFailure: `hush load` of an archive with a broken
// image, or an image whose layer cannot be unpacked, fails naming the
// archive and the problem, and `hush images` is unchanged afterwards.
func TestLoadPublishesNothingOnFailure(t *testing.T) {
	requireHush(t)
	good := loadFixture{tag: "loadgood:1", layer: layerTar(t, "good")}
	tests := []struct {
		name string
		imgs []loadFixture
		want []string
	}{
		{
			name: "second-image-layer-not-its-diff-id",
			imgs: []loadFixture{good, {tag: "loadbad:1", layer: layerTar(t, "tampered"), diffID: sha256Of(layerTar(t, "bad"))}},
			want: []string{"image 2 of 2 (loadbad:1)", "l1.tar", "diff_id"},
		},
		{
			// Every digest matches, so only unpacking finds the layer is no tar.
			name: "layer-not-a-tar",
			imgs: []loadFixture{good, {tag: "loadbad:1", layer: bytes.Repeat([]byte("not a tar "), 100)}},
			want: []string{"image 2 of 2 (loadbad:1)", "unpacking"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newInteropEnv(t)
			before, errOut, code := e.Run("images")
			if code != 0 || !strings.Contains(imageRows(before), "busybox latest") {
				t.Fatalf("hush images: exit %d, want busybox listed:\n%s%s", code, before, errOut)
			}
			archive := filepath.Join(e.Dir, "broken.tar")
			dockerArchive(t, archive, tt.imgs...)
			out, errOut, code := e.Run("load", "-i", archive)
			if code != 1 {
				t.Fatalf("hush load: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			for _, w := range append([]string{"ERROR: loading " + archive + ": "}, tt.want...) {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q does not mention %q", errOut, w)
				}
			}
			if strings.Contains(errOut, "goroutine ") || strings.Contains(out, "Loaded image") {
				t.Errorf("unexpected output:\nstdout:\n%s\nstderr:\n%s", out, errOut)
			}
			after, _, _ := e.Run("images")
			if imageRows(after) != imageRows(before) {
				t.Errorf("hush images changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// imageRows is `hush images` output cut to repository, tag and ID (the
// CREATED column moves with the clock).
func imageRows(out string) string {
	var rows []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) >= 3 {
			rows = append(rows, strings.Join(f[:3], " "))
		}
	}
	return strings.Join(rows, "\n")
}
