package buildflags

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/image"
)

func TestParseHosts(t *testing.T) {
	tests := []struct {
		in      []string
		want    []builder.Host
		wantErr string
	}{
		{in: []string{"db:10.0.0.2"}, want: []builder.Host{{Name: "db", IP: "10.0.0.2"}}},
		{in: []string{"db=10.0.0.2"}, want: []builder.Host{{Name: "db", IP: "10.0.0.2"}}},
		{in: []string{"v6=[::1]"}, want: []builder.Host{{Name: "v6", IP: "::1"}}},
		{in: []string{"v6=::1"}, want: []builder.Host{{Name: "v6", IP: "::1"}}},
		{in: []string{"multi=10.0.0.1,10.0.0.2"}, want: []builder.Host{{Name: "multi", IP: "10.0.0.1"}, {Name: "multi", IP: "10.0.0.2"}}},
		{in: []string{"gw:host-gateway"}, want: []builder.Host{{Name: "gw", IP: "127.0.0.1"}}},
		{in: []string{"nocolon"}, wantErr: `--add-host "nocolon": invalid host`},
		{in: []string{":10.0.0.1"}, wantErr: `invalid host`},
		{in: []string{"db:notanip"}, wantErr: `"notanip" is not an IP address`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.in, " "), func(t *testing.T) {
			got, err := ParseHosts(tt.in)
			check(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestParseUlimits(t *testing.T) {
	tests := []struct {
		in      []string
		want    []builder.Ulimit
		wantErr string
	}{
		{in: []string{"nofile=1024:2048"}, want: []builder.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}}},
		{in: []string{"nproc=50"}, want: []builder.Ulimit{{Name: "nproc", Soft: 50, Hard: 50}}},
		{in: []string{"nofile=1:2", "core=0", "nofile=3:4"}, want: []builder.Ulimit{{Name: "nofile", Soft: 3, Hard: 4}, {Name: "core"}}},
		{in: []string{"bogus=1"}, wantErr: `--ulimit "bogus=1"`},
		{in: []string{"nofile=2:1"}, wantErr: `--ulimit "nofile=2:1"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.in, " "), func(t *testing.T) {
			got, err := ParseUlimits(tt.in)
			check(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestParseShmSize(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "128m": 128 << 20, "1g": 1 << 30, "1048576": 1 << 20} {
		if got, err := ParseShmSize(in); err != nil || got != want {
			t.Errorf("ParseShmSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"lots", "-1"} {
		if _, err := ParseShmSize(in); err == nil || !strings.Contains(err.Error(), "--shm-size") {
			t.Errorf("ParseShmSize(%q): err %v, want one naming --shm-size", in, err)
		}
	}
}

func TestParseAllow(t *testing.T) {
	tests := []struct {
		in      []string
		want    builder.Entitlements
		wantErr string
	}{
		{in: []string{"network.host"}, want: builder.Entitlements{NetworkHost: true}},
		{in: []string{"security.insecure", "network.host"}, want: builder.Entitlements{NetworkHost: true, SecurityInsecure: true}},
		{in: []string{"buildx.local.delete"}},
		{in: []string{"buildx.local.delete=1"}, wantErr: "does not accept a value"},
		{in: []string{"device=nvidia.com/gpu"}, wantErr: "device entitlements"},
		{in: []string{"root.everything"}, wantErr: "unknown entitlement root.everything"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.in, " "), func(t *testing.T) {
			got, err := ParseAllow(tt.in)
			check(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func check[T any](t *testing.T, got T, err error, want T, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v, want %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestParseAnnotations(t *testing.T) {
	tests := []struct {
		in      []string
		want    image.Annotations
		wantErr string
	}{
		{in: []string{"org.opencontainers.image.title=hush"},
			want: image.Annotations{Manifest: map[string]map[string]string{"": {"org.opencontainers.image.title": "hush"}}}},
		{in: []string{"index,manifest:a=1"},
			want: image.Annotations{Index: map[string]string{"a": "1"}, Manifest: map[string]map[string]string{"": {"a": "1"}}}},
		{in: []string{"manifest[linux/arm64]:b=2", "manifest-descriptor:c=3", "index-descriptor:d=4"},
			want: image.Annotations{Manifest: map[string]map[string]string{"linux/arm64": {"b": "2"}},
				ManifestDescriptor: map[string]map[string]string{"": {"c": "3"}}, IndexDescriptor: map[string]string{"d": "4"}}},
		{in: []string{"k=v=w"}, want: image.Annotations{Manifest: map[string]map[string]string{"": {"k": "v=w"}}}},
		{in: []string{"novalue"}, wantErr: "expected key=value"},
		{in: []string{"bogus:k=v"}, wantErr: `unknown annotation type "bogus"`},
		{in: []string{"Manifest:k=v"}, wantErr: `invalid annotation type "Manifest"`},
		{in: []string{"index[linux/amd64]:k=v"}, wantErr: "index annotations take no platform"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.in, " "), func(t *testing.T) {
			got, err := ParseAnnotations(tt.in)
			check(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestParseContexts(t *testing.T) {
	dg := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		in      []string
		want    map[string]builder.NamedContext
		wantErr string
	}{
		{in: []string{"src=./dir"}, want: map[string]builder.NamedContext{"src": {Kind: builder.ContextDir, Ref: "./dir"}}},
		{in: []string{"docker.io/library/alpine:latest=docker-image://busybox:1"},
			want: map[string]builder.NamedContext{"alpine": {Kind: builder.ContextImage, Ref: "busybox:1"}}},
		{in: []string{"alpine:3=docker-image://busybox"}, want: map[string]builder.NamedContext{"alpine:3": {Kind: builder.ContextImage, Ref: "busybox"}}},
		{in: []string{"base=oci-layout:///l/dir:v1"}, want: map[string]builder.NamedContext{"base": {Kind: builder.ContextOCILayout, Ref: "/l/dir", Tag: "v1"}}},
		{in: []string{"base=oci-layout://rel/dir@" + dg}, want: map[string]builder.NamedContext{"base": {Kind: builder.ContextOCILayout, Ref: "rel/dir", Digest: dg}}},
		{in: []string{"base=oci-layout://./dir"}, want: map[string]builder.NamedContext{"base": {Kind: builder.ContextOCILayout, Ref: "./dir"}}},
		{in: []string{"repo=https://github.com/o/r.git#main"}, want: map[string]builder.NamedContext{"repo": {Kind: builder.ContextGit, Ref: "https://github.com/o/r.git#main"}}},
		{in: []string{"nokey"}, wantErr: "expected key=value"},
		{in: []string{"Bad Name=./d"}, wantErr: "invalid context name"},
		{in: []string{"x="}, wantErr: "empty value"},
		{in: []string{"x=docker-image://UPPER"}, wantErr: "docker-image://UPPER"},
		{in: []string{"x=https://example.com/ctx.tar.gz"}, wantErr: "tarball URL"},
		{in: []string{"x=target:other"}, wantErr: "belong to bake"},
		{in: []string{"x=oci-layout://d@sha256:12"}, wantErr: "invalid digest"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.in, " "), func(t *testing.T) {
			got, err := ParseContexts(tt.in)
			check(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestParseCall(t *testing.T) {
	tests := []struct {
		in      string
		want    Call
		wantErr string
	}{
		{in: "build", want: Call{}},
		{in: "", want: Call{}},
		{in: "check", want: Call{Name: "check"}},
		{in: "lint", want: Call{Name: "check"}},
		{in: "outline,format=json", want: Call{Name: "outline", Format: "json"}},
		{in: "check,ignorestatus=true", want: Call{Name: "check", IgnoreStatus: true}},
		{in: "targets,color=red", wantErr: "invalid print field: color=red"},
		{in: "check,outline", wantErr: "invalid print value"},
		{in: "check,ignorestatus=maybe", wantErr: "invalid ignorestatus print value: maybe"},
		{in: "frobnicate", wantErr: `unknown method "frobnicate"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCall(tt.in)
			check(t, got, err, tt.want, tt.wantErr)
		})
	}
}
