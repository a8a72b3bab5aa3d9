package fscopy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/hush-build/hush/internal/hushtest"
)

var archiveTime = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

// testTar is a tar with a normal tree plus entries trying to escape.
func testTar(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body string) {
		h.ModTime = archiveTime
		h.Size = int64(len(body))
		if h.Uid == 0 {
			h.Uid, h.Gid = 1000, 1001
		}
		must(t, tw.WriteHeader(h))
		if body != "" {
			_, err := tw.Write([]byte(body))
			must(t, err)
		}
	}
	add(&tar.Header{Name: "pkg/", Typeflag: tar.TypeDir, Mode: 0o750}, "")
	add(&tar.Header{Name: "pkg/a.txt", Typeflag: tar.TypeReg, Mode: 0o640}, "hello")
	add(&tar.Header{Name: "pkg/l", Typeflag: tar.TypeSymlink, Linkname: "a.txt", Mode: 0o777}, "")
	add(&tar.Header{Name: "pkg/h", Typeflag: tar.TypeLink, Linkname: "pkg/a.txt", Mode: 0o640}, "")
	add(&tar.Header{Name: "../../escape.txt", Typeflag: tar.TypeReg, Mode: 0o644}, "esc")
	add(&tar.Header{Name: "/abs.txt", Typeflag: tar.TypeReg, Mode: 0o644}, "abs")
	add(&tar.Header{Name: "evil", Typeflag: tar.TypeSymlink, Linkname: "/", Mode: 0o777}, "")
	add(&tar.Header{Name: "evil/etc/owned", Typeflag: tar.TypeReg, Mode: 0o644}, "owned")
	add(&tar.Header{Name: "up", Typeflag: tar.TypeSymlink, Linkname: "../../../..", Mode: 0o777}, "")
	add(&tar.Header{Name: "up/up.txt", Typeflag: tar.TypeReg, Mode: 0o644}, "up")
	must(t, tw.Close())
	return buf.Bytes()
}

var extracted = map[string]string{
	"x/":           "",
	"x/pkg/":       "",
	"x/pkg/a.txt":  "hello",
	"x/pkg/l":      "->a.txt",
	"x/pkg/h":      "hello",
	"x/escape.txt": "esc",
	"x/abs.txt":    "abs",
	"x/evil":       "->/",
	"x/etc/":       "",
	"x/etc/owned":  "owned",
	"x/up":         "->../../../..",
	"x/up.txt":     "up",
}

func compressWith(t *testing.T, kind string, data []byte) []byte {
	t.Helper()
	switch kind {
	case "tar":
		return data
	case "gzip":
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, err := zw.Write(data)
		must(t, err)
		must(t, zw.Close())
		return buf.Bytes()
	case "zstd":
		zw, err := zstd.NewWriter(nil)
		must(t, err)
		return zw.EncodeAll(data, nil)
	case "bzip2", "xz":
		cmd := exec.Command(hushtest.RequireBinary(t, kind), "-c") // builds the fixture
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.Output()
		must(t, err)
		return out
	}
	t.Fatalf("unknown compression %q", kind)
	return nil
}

func TestAddExtractsArchives(t *testing.T) {
	for _, kind := range []string{"tar", "gzip", "bzip2", "xz", "zstd"} {
		t.Run(kind, func(t *testing.T) {
			srcRoot, dstRoot := t.TempDir(), t.TempDir()
			must(t, os.WriteFile(filepath.Join(srcRoot, "pkg.archive"), compressWith(t, kind, testTar(t)), 0o644))
			if err := Copy(Source{Root: srcRoot}, []string{"pkg.archive"}, dstRoot, "/x", "", Options{ExtractArchives: true}); err != nil {
				t.Fatalf("Copy: %v", err)
			}
			sameTree(t, listTree(t, dstRoot), extracted)

			st := statT(t, filepath.Join(dstRoot, "x/pkg/a.txt"))
			if st.Uid != 1000 || st.Gid != 1001 || st.Mode&0o7777 != 0o640 {
				t.Errorf("a.txt: %d:%d %o, want 1000:1001 640", st.Uid, st.Gid, st.Mode&0o7777)
			}
			if a, h := statT(t, filepath.Join(dstRoot, "x/pkg/a.txt")), statT(t, filepath.Join(dstRoot, "x/pkg/h")); a.Ino != h.Ino {
				t.Error("hard link in archive not extracted as a hard link")
			}
			for _, rel := range []string{"x/pkg", "x/pkg/a.txt"} {
				fi, err := os.Lstat(filepath.Join(dstRoot, rel))
				must(t, err)
				if !fi.ModTime().Equal(archiveTime) {
					t.Errorf("%s mtime = %v, want %v", rel, fi.ModTime(), archiveTime)
				}
			}
		})
	}
}

func TestAddArchiveOptions(t *testing.T) {
	needRoot(t)
	tests := []struct {
		name    string
		file    []byte
		opts    Options
		want    map[string]string
		wantUID uint32
	}{
		{
			name: "COPY does not extract", file: compressWith(t, "gzip", testTar(t)),
			want: map[string]string{"x/": "", "x/pkg.archive": string(compressWith(t, "gzip", testTar(t)))},
		},
		{
			name: "chown applies to every entry", file: testTar(t), opts: Options{ExtractArchives: true, Chown: &Owner{UID: 7, GID: 8}},
			want: extracted, wantUID: 7,
		},
		{
			name: "not an archive is copied", file: []byte("just text"), opts: Options{ExtractArchives: true},
			want: map[string]string{"x/": "", "x/pkg.archive": "just text"},
		},
		{
			name: "gzip of non-tar is copied", file: compressWith(t, "gzip", []byte("not a tar")), opts: Options{ExtractArchives: true},
			want: map[string]string{"x/": "", "x/pkg.archive": string(compressWith(t, "gzip", []byte("not a tar")))},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srcRoot, dstRoot := t.TempDir(), t.TempDir()
			must(t, os.WriteFile(filepath.Join(srcRoot, "pkg.archive"), tt.file, 0o644))
			if err := Copy(Source{Root: srcRoot}, []string{"pkg.archive"}, dstRoot, "/x/", "", tt.opts); err != nil {
				t.Fatalf("Copy: %v", err)
			}
			sameTree(t, listTree(t, dstRoot), tt.want)
			if tt.wantUID != 0 {
				for rel := range tt.want {
					st := statT(t, filepath.Join(dstRoot, strings.TrimSuffix(rel, "/")))
					if rel != "x/" && rel != "x/etc/" && st.Uid != tt.wantUID {
						t.Errorf("%s uid = %d, want %d", rel, st.Uid, tt.wantUID)
					}
				}
			}
		})
	}
}
