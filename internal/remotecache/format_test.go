package remotecache

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/hush-build/hush/internal/cache"
)

// TestParseConfig: a cache config is used only when its version and key format are this
// hush's (else skipped, not an error) and it agrees with its manifest's layers.
func TestParseConfig(t *testing.T) {
	d := "sha256:" + strings.Repeat("a", 64)
	layers := []v1.Descriptor{{Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}, MediaType: types.OCILayer}}
	ok := `"layers":[{"digest":"` + d + `","diffID":"` + d + `"}],"records":[{"key":"` + d + `","layer":0,"created":"2024-01-01T00:00:00Z"}]`
	tests := []struct {
		name, cfg string
		skip      bool
		err       string
	}{
		{name: "good", cfg: `{"version":1,"keyFormat":"hush-cache-1",` + ok + `}`},
		{name: "newer version", cfg: `{"version":2,"keyFormat":"hush-cache-1",` + ok + `}`, skip: true, err: "version 2"},
		{name: "other keys", cfg: `{"version":1,"keyFormat":"buildkit",` + ok + `}`, skip: true, err: `keys of format "buildkit"`},
		{name: "layer count", cfg: `{"version":1,"keyFormat":"hush-cache-1","layers":[],"records":[]}`, err: "lists 0 layer(s), the manifest 1"},
		{name: "record layer out of range", cfg: `{"version":1,"keyFormat":"hush-cache-1","layers":[{"digest":"` + d + `","diffID":"` + d + `"}],"records":[{"key":"` + d + `","layer":3}]}`, err: "names layer 3 of 1"},
		{name: "not JSON", cfg: `{`, err: "reading the cache config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig([]byte(tt.cfg), layers)
			if tt.err == "" {
				if err != nil || len(c.Records) != 1 {
					t.Fatalf("parseConfig = %+v, %v", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) || IsSkip(err) != tt.skip {
				t.Fatalf("error %v (skip %v), want %q (skip %v)", err, IsSkip(err), tt.err, tt.skip)
			}
		})
	}
}

// TestVerify: a blob is checked against its digest and its uncompressed content against the
// diffID; either mismatch is ErrTampered.
func TestVerify(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("layer tar"))
	zw.Close()
	blob := gz.Bytes()
	digest, diffID := sha256Hash(blob), sha256Hash([]byte("layer tar")).String()
	ctx := context.Background()
	if err := Verify(ctx, bytes.NewReader(blob), digest, int64(len(blob)), diffID); err != nil {
		t.Fatalf("the right blob: %v", err)
	}
	bad := bytes.Clone(blob)
	bad[len(bad)-5] ^= 1 // in the gzip trailer: still a readable stream
	for name, err := range map[string]error{
		"changed blob": Verify(ctx, bytes.NewReader(bad), digest, int64(len(bad)), diffID),
		"wrong diffID": Verify(ctx, bytes.NewReader(blob), digest, int64(len(blob)), sha256Hash([]byte("other")).String()),
		"truncated":    Verify(ctx, bytes.NewReader(blob[:10]), digest, int64(len(blob)), diffID),
		"not gzip":     Verify(ctx, strings.NewReader("plain"), sha256Hash([]byte("plain")), 5, diffID),
	} {
		if !errors.Is(err, ErrTampered) {
			t.Errorf("%s: %v, want ErrTampered", name, err)
		}
	}
}

// TestInlineRoundTrip: an inline cache indexes the image's own layers; one read back gives
// the records with their layers' digests and diffIDs.
func TestInlineRoundTrip(t *testing.T) {
	img, err := random.Image(64, 2)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	k1, k2 := cache.NewKey("run", "a").Sum(), cache.NewKey("run", "b").Sum()
	entries := []Entry{{Key: k1, Record: &cache.Record{}, Layer: layers[1]}, {Key: k2, Record: &cache.Record{}}}
	out, n, err := Inline(img, entries)
	if err != nil || n != 2 {
		t.Fatalf("Inline = %d, %v", n, err)
	}
	s := &Source{name: "test", img: out}
	if err := s.read(); err != nil {
		t.Fatal(err)
	}
	r, ok := s.Lookup(k1)
	d, _ := layers[1].Digest()
	diff, _ := layers[1].DiffID()
	if !ok || r.Layer == nil || r.Layer.Digest != d.String() || r.Layer.DiffID != diff.String() {
		t.Errorf("record %s = %+v", k1, r)
	}
	if r, ok := s.Lookup(k2); !ok || r.Layer != nil {
		t.Errorf("record %s = %+v, want an empty change", k2, r)
	}
	if id1, _ := img.ConfigName(); func() v1.Hash { id, _ := out.ConfigName(); return id }() != id1 {
		t.Error("the inline cache changed the image ID")
	}
}
