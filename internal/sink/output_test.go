package sink

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/hushtest"
	"github.com/hush-build/hush/internal/image"
)

func intp(n int) *int { return &n }

func TestParseOutput(t *testing.T) {
	tests := []struct {
		in      string
		want    Output // Spec is filled from in, Store is true unless nostore
		nostore bool
		wantErr string
	}{
		{in: "out", want: Output{Type: "local", Dest: "out"}},
		{in: "-", want: Output{Type: "tar", Dest: "-"}},
		{in: "type=tar,dest=-", want: Output{Type: "tar", Dest: "-"}},
		{in: "type=tar", want: Output{Type: "tar", Dest: "-"}},
		{in: "type=tar,dest=rootfs.tar", want: Output{Type: "tar", Dest: "rootfs.tar"}},
		{in: "type=local,dest=-", want: Output{Type: "tar", Dest: "-"}},
		{in: "type=local,dest=out", want: Output{Type: "local", Dest: "out"}},
		{in: "type=oci,dest=-", want: Output{Type: "oci", Dest: "-", Tar: true}},
		{in: "type=oci", want: Output{Type: "oci", Dest: "-", Tar: true}},
		{in: "type=oci,dest=x.tar", want: Output{Type: "oci", Dest: "x.tar", Tar: true}},
		{in: "type=oci,dest=layout", want: Output{Type: "oci", Dest: "layout"}},
		{in: "type=oci,dest=layout,tar=true", want: Output{Type: "oci", Dest: "layout", Tar: true}},
		{in: "type=docker,dest=-,name=a:1", want: Output{Type: "docker", Dest: "-", Name: "a:1"}},
		{in: "type=docker,dest=d.tar", want: Output{Type: "docker", Dest: "d.tar"}},
		{in: "type=image,name=a", want: Output{Type: "image", Name: "a"}},
		{in: "type=registry,name=a", want: Output{Type: "image", Name: "a", Push: true, Registry: true}},
		{in: "type=registry", want: Output{Type: "image", Push: true, Registry: true}},
		{in: "type=docker", want: Output{Type: "docker"}},
		{in: "type=docker,context=remote", want: Output{Type: "docker", Context: "remote"}},
		{in: "type=image,push=true,push-by-digest=true,name-canonical=true,registry.insecure=true,store=false,unpack=false",
			want: Output{Type: "image", Push: true, PushByDigest: true, NameCanonical: true, Insecure: true}, nostore: true},
		{in: "type=oci,dest=x.tar,compression=zstd,compression-level=9,force-compression=true,oci-mediatypes=true",
			want: Output{Type: "oci", Dest: "x.tar", Tar: true, Image: image.ExportOptions{Compression: image.Compression{Type: "zstd", Level: intp(9), Force: true}}}},
		{in: "type=image,oci-mediatypes=false,compression=uncompressed", want: Output{Type: "image",
			Image: image.ExportOptions{DockerTypes: true, Compression: image.Compression{Type: "uncompressed"}}}},
		{in: "type=image,annotation.org.opencontainers.image.title=t,annotation-index.a=b,annotation-manifest[linux/amd64].c=d",
			want: Output{Type: "image", Image: image.ExportOptions{Annotations: image.Annotations{Index: map[string]string{"a": "b"},
				Manifest: map[string]map[string]string{"": {"org.opencontainers.image.title": "t"}, "linux/amd64": {"c": "d"}}}}}},

		{in: "", wantErr: `--output "": empty value`},
		{in: "  ", wantErr: `--output "  ": empty value`},
		{in: "type=local", wantErr: "type=local needs dest=DIR"},
		{in: "type=local,dest=", wantErr: "dest is empty"},
		{in: "type=tar,dest=", wantErr: "dest is empty"},
		{in: "type=oci,dest=", wantErr: "dest is empty"},
		{in: "type=image,compression-level=high", wantErr: "compression-level=high: want an integer"},
		{in: "type=image,push-by-digest=maybe", wantErr: "push-by-digest=maybe: want true or false"},
		{in: "type=image,annotation-bogus.a=b", wantErr: `unknown annotation type "bogus"`},
		{in: "type=oci,tar=false", wantErr: "needs dest=DIR"},
		{in: "type=oci,tar=false,dest=-", wantErr: "needs dest=DIR"},
		{in: "dest=out", wantErr: "type is required"},
		{in: "type=bogus,dest=x", wantErr: `unsupported type "bogus"`},
		{in: "type=local,dest=a,color=red", wantErr: `unsupported key "color"`},
		{in: "type=oci,tar=maybe,dest=x", wantErr: "tar=maybe: want true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "--output ") {
					t.Fatalf("error %q does not name the flag", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Spec = tt.in
			tt.want.Store = !tt.nostore
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestCheckOutputDest(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/", filepath.Join(dir, "toroot")); err != nil {
		t.Fatal(err)
	}
	_, pty := hushtest.OpenPTY(t)
	tests := []struct {
		spec    string
		tty     bool // stdout is a terminal (else a buffer)
		wantErr string
	}{
		{spec: "type=local,dest=" + filepath.Join(dir, "new")},
		{spec: "type=local,dest=" + dir},
		{spec: "type=tar,dest=" + filepath.Join(dir, "new.tar")},
		{spec: "-"},
		{spec: "type=oci,dest=-"},
		{spec: "type=local,dest=/", wantErr: "is the root directory"},
		{spec: "/", wantErr: "is the root directory"},
		{spec: "type=local,dest=" + dir + "/../../../../../../..", wantErr: "is the root directory"},
		{spec: "type=local,dest=" + filepath.Join(dir, "toroot"), wantErr: "is the root directory"},
		{spec: "type=tar,dest=/", wantErr: "is the root directory"},
		{spec: "type=local,dest=" + file, wantErr: "exists and is not a directory"},
		{spec: "type=oci,dest=" + file + ",tar=false", wantErr: "exists and is not a directory"},
		{spec: "type=tar,dest=" + dir, wantErr: "is a directory"},
		{spec: "type=docker,dest=" + dir, wantErr: "is a directory"},
		{spec: "-", tty: true, wantErr: "refusing to write the tar archive to a terminal"},
		{spec: "type=oci,dest=-", tty: true, wantErr: "redirect stdout"},
		{spec: "type=docker,dest=-", tty: true, wantErr: "give dest=FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			o, err := Parse(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			var stdout io.Writer = &bytes.Buffer{}
			if tt.tty {
				stdout = pty
			}
			err2 := o.Check(stdout)
			if tt.wantErr == "" {
				if err2 != nil {
					t.Fatal(err2)
				}
				return
			}
			if err2 == nil || !strings.Contains(err2.Error(), tt.wantErr) || !strings.HasPrefix(err2.Error(), "--output ") {
				t.Fatalf("err = %v, want --output … %q", err2, tt.wantErr)
			}
		})
	}
}
