package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// rawLayer is a layer from hand-written headers, for names and PAX records
// the entry helper cannot express.
func rawLayer(t *testing.T, hdrs ...*tar.Header) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		h.ModTime = time.Unix(1700000000, 0)
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
		}
	}
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

type tarMember struct {
	typ      byte
	body     string
	linkname string
	pax      map[string]string
}

func readTar(t *testing.T, r io.Reader) map[string]tarMember {
	t.Helper()
	got := map[string]tarMember{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		got[h.Name] = tarMember{typ: h.Typeflag, body: string(b), linkname: h.Linkname, pax: h.PAXRecords}
	}
}

// The rootfs tar (type=tar, -o -) holds the final files of the image and
// nothing else: whiteouts applied and dropped, names relative, no root entry.
func TestRootfsTar(t *testing.T) {
	long := strings.Repeat("d", 90) + "/" + strings.Repeat("f", 60)
	lower := rawLayer(t,
		&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "./etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "./etc/gone", Typeflag: tar.TypeReg, Mode: 0o644, Size: 4},
		&tar.Header{Name: "/abs", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3},
		&tar.Header{Name: "cap", Typeflag: tar.TypeReg, Mode: 0o755, Size: 1,
			PAXRecords: map[string]string{"SCHILY.xattr.security.capability": "\x01\x00\x00\x02"}},
		&tar.Header{Name: strings.Repeat("d", 90) + "/", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "./" + long, Typeflag: tar.TypeReg, Mode: 0o644, Size: 2},
	)
	upper := layerOf(t, types.OCILayer,
		entry{name: "etc/", typ: tar.TypeDir},
		entry{name: "etc/.wh.gone", typ: tar.TypeReg},
		entry{name: "etc/new", body: "new"},
		entry{name: "hard", typ: tar.TypeLink, linkname: "./etc/new"},
		entry{name: "sym", typ: tar.TypeSymlink, linkname: "/etc/new"},
	)
	img := testImage(t, "rootfs-tar", lower, upper)
	var buf bytes.Buffer
	if err := StreamRootfsTar(&buf, img); err != nil {
		t.Fatal(err)
	}
	got := readTar(t, &buf)
	var names []string
	for n := range got {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"abs", "cap", strings.Repeat("d", 90) + "/", long, "etc/", "etc/new", "hard", "sym"}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("tar names\n%q\nwant\n%q", names, want)
	}
	checks := []struct {
		name string
		want tarMember
	}{
		{"etc/new", tarMember{typ: tar.TypeReg, body: "new"}},
		{"hard", tarMember{typ: tar.TypeLink, linkname: "etc/new"}},
		{"sym", tarMember{typ: tar.TypeSymlink, linkname: "/etc/new"}},
		{long, tarMember{typ: tar.TypeReg, body: "xx"}},
	}
	for _, c := range checks {
		g := got[c.name]
		if g.typ != c.want.typ || g.body != c.want.body || g.linkname != c.want.linkname {
			t.Errorf("%s = %+v, want %+v", c.name, g, c.want)
		}
	}
	if got["cap"].pax["SCHILY.xattr.security.capability"] != "\x01\x00\x00\x02" {
		t.Errorf("cap lost its xattr: %q", got["cap"].pax)
	}

	// The file form is the same tar, written through outfile.
	p := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := WriteRootfsTar(img, p); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if fromFile := readTar(t, f); len(fromFile) != len(got) {
		t.Fatalf("file tar has %d entries, stream %d", len(fromFile), len(got))
	}
}

// A kill leaves .NAME.tmp-DIGITS beside the destination; the next sink
// writing there removes it (and nothing else).
func TestSinksRemoveStaleTemps(t *testing.T) {
	img := simpleImage(t, "stale")
	sinks := []struct {
		name  string
		write func(string) error
	}{
		{"oci-layout", func(p string) error { return WriteOCILayout(mustSingle(t, img), p, nil) }},
		{"oci-archive", func(p string) error { return WriteOCIArchive(mustSingle(t, img), p, nil) }},
		{"docker-archive", func(p string) error { return WriteDockerArchive(img, p, nil) }},
		{"rootfs", func(p string) error { return ExportRootfs(img, p) }},
		{"rootfs-tar", func(p string) error { return WriteRootfsTar(img, p) }},
	}
	for _, sk := range sinks {
		t.Run(sk.name, func(t *testing.T) {
			parent := t.TempDir()
			if err := os.MkdirAll(filepath.Join(parent, ".out.tmp-41", "etc"), 0o700); err != nil {
				t.Fatal(err)
			}
			for _, n := range []string{".out.tmp-42", ".out.tmp-mine", "unrelated"} {
				if err := os.WriteFile(filepath.Join(parent, n), []byte("half"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := sk.write(filepath.Join(parent, "out")); err != nil {
				t.Fatal(err)
			}
			if got, want := dirNames(t, parent), []string{".out.tmp-mine", "out", "unrelated"}; !slices.Equal(got, want) {
				t.Fatalf("left %v, want %v", got, want)
			}
		})
	}
}
