package image

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestBlobWriter(t *testing.T) {
	s := newStore(t)
	tests := []struct {
		name   string
		data   []byte
		abort  bool
		commit int // number of Commit calls
	}{
		{name: "commit", data: []byte("layer bytes"), commit: 1},
		{name: "commit existing", data: []byte("layer bytes"), commit: 1},
		{name: "empty", data: nil, commit: 1},
		{name: "abort", data: []byte("dropped"), abort: true},
		{name: "double commit", data: []byte("twice"), commit: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := s.NewBlob()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(tt.data); err != nil {
				t.Fatal(err)
			}
			want, _, _ := v1.SHA256(bytes.NewReader(tt.data))
			if tt.abort {
				if err := w.Abort(); err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(s.blobPath(want)); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("aborted blob present: %v", err)
				}
			}
			for i := range tt.commit {
				d, n, err := w.Commit()
				if i > 0 {
					if err == nil {
						t.Fatal("second Commit succeeded")
					}
					continue
				}
				if err != nil || d != want || n != int64(len(tt.data)) {
					t.Fatalf("Commit = %s %d %v, want %s %d", d, n, err, want, len(tt.data))
				}
				if b, err := os.ReadFile(s.blobPath(d)); err != nil || !bytes.Equal(b, tt.data) {
					t.Fatalf("blob content %q, %v", b, err)
				}
			}
			if err := w.Abort(); err != nil { // always safe afterwards
				t.Fatal(err)
			}
			if left := dirNames(t, filepath.Join(s.Dir(), tmpDirName)); len(left) != 0 {
				t.Fatalf("temp files left: %v", left)
			}
		})
	}
}

func TestBlobLayerDoesNotDecompress(t *testing.T) {
	s := newStore(t)
	w, err := s.NewBlob()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("not gzip at all")) // computing a DiffID from this would fail or differ
	d, n, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	diffID := v1.Hash{Algorithm: "sha256", Hex: "1111111111111111111111111111111111111111111111111111111111111111"}
	tests := []struct {
		name    string
		digest  v1.Hash
		size    int64
		wantErr bool
	}{
		{name: "ok", digest: d, size: n},
		{name: "wrong size", digest: d, size: n + 1, wantErr: true},
		{name: "missing", digest: diffID, size: n, wantErr: true},
		{name: "bad digest", digest: v1.Hash{Algorithm: "sha256", Hex: "../x"}, size: n, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := s.BlobLayer(tt.digest, diffID, tt.size, types.OCILayer)
			if tt.wantErr {
				if err == nil {
					t.Fatal("BlobLayer succeeded, want error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := l.DiffID()
			if err != nil || got != diffID {
				t.Fatalf("DiffID = %s, %v; want the given %s", got, err, diffID)
			}
			if gd, _ := l.Digest(); gd != d {
				t.Fatalf("Digest = %s, want %s", gd, d)
			}
			if sz, _ := l.Size(); sz != n {
				t.Fatalf("Size = %d, want %d", sz, n)
			}
			if mt, _ := l.MediaType(); mt != types.OCILayer {
				t.Fatalf("MediaType = %s", mt)
			}
		})
	}
}

func TestPutAfterSharedBlobRemoved(t *testing.T) {
	s := newStore(t)
	w, err := s.NewBlob()
	if err != nil {
		t.Fatal(err)
	}
	gz := gzipBytes(t, tarBytes(t, entry{name: "f", body: "shared"}))
	w.Write(gz)
	d, n, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	diffID, _, _ := v1.SHA256(bytes.NewReader(tarBytes(t, entry{name: "f", body: "shared"})))
	l, err := s.BlobLayer(d, diffID, n, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	a, b := testImage(t, "a", l), testImage(t, "b", l)
	if _, err := s.Put(a, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Remove("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(b, "b"); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Put with a removed blob: err = %v, want a not-exist error", err)
	}
	if l, _ := s.List(); len(l) != 0 {
		t.Fatalf("broken image stored: %+v", l)
	}
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
