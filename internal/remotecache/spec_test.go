package remotecache

import (
	"reflect"
	"strings"
	"testing"
)

// TestParseExport: --cache-to's attributes with BuildKit's defaults (mode=min,
// oci-mediatypes=true, ignore-error=false, tag=latest), and a clear error naming the flag,
// the type and the attribute for what hush does not do.
func TestParseExport(t *testing.T) {
	tests := []struct {
		typ   string
		attrs map[string]string
		want  Export
		err   string
	}{
		{typ: "registry", attrs: map[string]string{"ref": "r/a:c"}, want: Export{Type: "registry", Ref: "r/a:c", OCIMediaTypes: true}},
		{typ: "registry", attrs: map[string]string{"ref": "r/a:c", "mode": "max", "oci-mediatypes": "false", "ignore-error": "true",
			"compression": "gzip", "image-manifest": "true", "registry.insecure": "true"},
			want: Export{Type: "registry", Ref: "r/a:c", Max: true, IgnoreError: true, Insecure: true}},
		{typ: "local", attrs: map[string]string{"dest": "d"}, want: Export{Type: "local", Dest: "d", Tag: "latest", OCIMediaTypes: true}},
		{typ: "local", attrs: map[string]string{"dest": "d", "tag": "v1", "mode": "min"}, want: Export{Type: "local", Dest: "d", Tag: "v1", OCIMediaTypes: true}},
		{typ: "inline", attrs: map[string]string{}, want: Export{Type: "inline"}},
		{typ: "registry", attrs: map[string]string{}, err: "--cache-to type=registry: ref required"},
		{typ: "local", attrs: map[string]string{"tag": "x"}, err: "--cache-to type=local: dest required"},
		{typ: "registry", attrs: map[string]string{"ref": "r", "mode": "full"}, err: "mode=full: want min or max"},
		{typ: "registry", attrs: map[string]string{"ref": "r", "ignore-error": "yes please"}, err: `ignore-error="yes please": want true or false`},
		{typ: "registry", attrs: map[string]string{"ref": "r", "compression": "zstd"}, err: "only compression=gzip is supported"},
		{typ: "registry", attrs: map[string]string{"ref": "r", "force-compression": "true"}, err: "hush exports them as they are"},
		{typ: "registry", attrs: map[string]string{"ref": "r", "colour": "blue"}, err: "unknown attribute(s) colour"},
		{typ: "inline", attrs: map[string]string{"mode": "max"}, err: "use type=registry,mode=max"},
		{typ: "gha", attrs: map[string]string{}, err: "--cache-to type=gha: not supported by hush"},
		{typ: "floppy", attrs: map[string]string{}, err: "unknown cache type"},
	}
	for _, tt := range tests {
		got, err := ParseExport(tt.typ, tt.attrs)
		checkParse(t, tt.typ, tt.attrs, got, err, tt.want, tt.err)
	}
}

// TestParseImport: --cache-from's attributes.
func TestParseImport(t *testing.T) {
	tests := []struct {
		typ   string
		attrs map[string]string
		want  Import
		err   string
	}{
		{typ: "registry", attrs: map[string]string{"ref": "r/a:c"}, want: Import{Type: "registry", Ref: "r/a:c"}},
		{typ: "local", attrs: map[string]string{"src": "d"}, want: Import{Type: "local", Src: "d", Tag: "latest"}},
		{typ: "local", attrs: map[string]string{"src": "d", "digest": "sha256:ab"}, want: Import{Type: "local", Src: "d", Digest: "sha256:ab"}},
		{typ: "local", attrs: map[string]string{}, err: "--cache-from type=local: src required"},
		{typ: "inline", attrs: map[string]string{}, err: "inline is an export type"},
		{typ: "registry", attrs: map[string]string{"ref": "r", "mode": "max"}, err: "--cache-from type=registry: unknown attribute(s) mode"},
	}
	for _, tt := range tests {
		got, err := ParseImport(tt.typ, tt.attrs)
		checkParse(t, tt.typ, tt.attrs, got, err, tt.want, tt.err)
	}
}

// checkParse compares a parse's result with the wanted one, or its error with wantErr.
func checkParse[T any](t *testing.T, typ string, attrs map[string]string, got T, err error, want T, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s %v: error %v, want %q", typ, attrs, err, wantErr)
		}
		return
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("%s %v = %+v, %v; want %+v", typ, attrs, got, err, want)
	}
}

// TestCheckExports: BuildKit refuses two exports to one place and keeps one inline.
func TestCheckExports(t *testing.T) {
	in := []Export{{Type: "inline"}, {Type: "registry", Ref: "a"}, {Type: "inline"}, {Type: "local", Dest: "d", Tag: "x"}, {Type: "local", Dest: "d", Tag: "y"}}
	out, err := CheckExports(in)
	if err != nil || len(out) != 4 {
		t.Fatalf("CheckExports = %v, %v", out, err)
	}
	if _, err := CheckExports([]Export{{Type: "registry", Ref: "a"}, {Type: "registry", Ref: "a", Max: true}}); err == nil {
		t.Error("two exports to one ref were accepted")
	}
}
