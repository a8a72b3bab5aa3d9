package cli

import (
	"io"
	"strings"
	"testing"
)

// TestCacheFlags: --cache-from and --cache-to take buildx's grammar (a value without "="
// lists registry refs) and are checked before any work starts.
func TestCacheFlags(t *testing.T) {
	tests := []struct {
		name     string
		from, to []string
		wantErr  string
		check    func(*testing.T, cacheSpecs)
	}{
		{name: "buildx's short form", from: []string{"reg.example/a:cache,reg.example/b:cache", "type=local,src=dir"},
			to: []string{"type=registry,ref=reg.example/a:cache,mode=max,ignore-error=true"},
			check: func(t *testing.T, c cacheSpecs) {
				f, to := c.from, c.to
				if len(f) != 3 || f[1].Ref != "reg.example/b:cache" || f[2].Src != "dir" || len(to) != 1 || !to[0].Max || !to[0].IgnoreError {
					t.Errorf("cache specs %+v %+v", f, to)
				}
			}},
		{name: "a bad mode", to: []string{"type=registry,ref=r/a,mode=all"}, wantErr: "--cache-to type=registry: mode=all: want min or max"},
		{name: "twice to one ref", to: []string{"r/a:c", "type=registry,ref=r/a:c,mode=max"}, wantErr: "--cache-to: duplicate cache exports to r/a:c"},
		{name: "no type", from: []string{"ref=r/a:c"}, wantErr: `--cache-from: type required for "ref=r/a:c"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &buildOptions{audit: "fail", network: "default", progress: "plain", cache: cacheFlags{from: tt.from, to: tt.to}}
			p, err := o.validate(io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, p.cache)
		})
	}
}
