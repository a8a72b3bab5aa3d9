package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/klauspost/compress/zstd"
)

func TestScanDir(t *testing.T) {
	root := t.TempDir()
	write := func(rel string, b []byte) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("clean/a", filler(10000, 5))
	write("cache/state.json", []byte(`{"v":"`+string(jsonEscape([]byte(canary), false))+`"}`))
	var z bytes.Buffer
	zw, _ := zstd.NewWriter(&z)
	zw.Write(tarOf(t, file{name: "etc/x", content: []byte("..." + canary)}))
	zw.Close()
	write("blobs/sha256/abc", z.Bytes())
	write("names/"+canary, nil)
	if err := os.Symlink("/tmp/"+canary, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	r, err := ScanDir(context.Background(), root, map[string][]byte{"tok": []byte(canary)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range r.Findings {
		got = append(got, f.Location.String())
	}
	want := []string{
		"file blobs/sha256/abc entry /etc/x @3 (zstd-decompressed)",
		"file cache/state.json @6",
		"file link (link)",
		"file names/" + canary + " (name)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r.Stats.Files != 4 {
		t.Errorf("files %d, want 4", r.Stats.Files)
	}
}

func TestScanIndex(t *testing.T) {
	dir := t.TempDir()
	img1 := imageOf(t, nil, layerOf(t, "gzip", file{name: "a", content: []byte("clean")}))
	img2 := imageOf(t, nil, layerOf(t, "zstd", file{name: "b", content: []byte(canary)}))
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img1}, mutate.IndexAddendum{Add: img2})
	hexForm := []byte(hex.EncodeToString([]byte(canary)))
	idx = mutate.Annotations(idx, map[string]string{"note": "hex " + string(hexForm)}).(v1.ImageIndex)
	if _, err := layout.Write(dir, idx); err != nil {
		t.Fatal(err)
	}
	lp, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ScanIndex(context.Background(), lp, map[string][]byte{"tok": []byte(canary)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	d2, _ := img2.Digest()
	if len(r.Findings) != 2 {
		t.Fatalf("findings %+v", r.Findings)
	}
	ix, ly := r.Findings[0].Location, r.Findings[1].Location
	if ix.Kind != KindIndex || ix.Key != "note" || r.Findings[0].Encoding != "hex" || ix.Offset != 4 {
		t.Errorf("index finding %+v", r.Findings[0])
	}
	if ly.Kind != KindLayer || ly.Image != d2.String() || ly.Path != "/b" {
		t.Errorf("layer finding %+v", ly)
	}
	if r.Stats.Layers != 2 {
		t.Errorf("layers %d", r.Stats.Layers)
	}
}

// TestScanDirWhileTreeChanges: another build (hush prune, a step writing a shared cache
// mount) removes dirs and files of a state dir while a self-audit walks it. What vanished
// is not on disk to search; the audit carries on and still finds what stays.
func TestScanDirWhileTreeChanges(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "kept"), []byte("x"+canary), 0o600); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			d := filepath.Join(root, "churn", strconv.Itoa(i%7), "a", "b")
			_ = os.MkdirAll(d, 0o700)
			_ = os.WriteFile(filepath.Join(d, "f"), []byte("y"), 0o600)
			_ = os.Symlink("t", filepath.Join(d, "l"))
			_ = os.RemoveAll(filepath.Join(root, "churn", strconv.Itoa((i+3)%7)))
		}
	}()
	defer func() { close(stop); <-done }()
	for range 300 {
		rep, err := ScanDir(context.Background(), root, map[string][]byte{"s": []byte(canary)}, Options{})
		if err != nil {
			t.Fatalf("audit of a changing tree: %v", err)
		}
		if len(rep.Findings) != 1 || rep.Findings[0].Location.Path != "kept" {
			t.Fatalf("findings %+v, want the one in kept", rep.Findings)
		}
	}
}
