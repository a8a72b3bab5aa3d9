package gc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParsePolicy(t *testing.T) {
	def := DefaultPolicy()
	tests := []struct {
		in   string
		want *Policy
		err  string
	}{
		{"off", nil, ""},
		{"", &def, ""},
		{"reserved-space=2GB, max-used-space=50%", &Policy{ReservedSpace: Space{Bytes: 2 << 30}, MaxUsedSpace: Space{Percent: 50},
			MinFreeSpace: def.MinFreeSpace, KeepDuration: def.KeepDuration}, ""},
		{"min-free-space=0,keep-duration=0", &Policy{ReservedSpace: def.ReservedSpace, MaxUsedSpace: def.MaxUsedSpace}, ""},
		{"keep-duration=48h\nmax-used-space=512MB", &Policy{ReservedSpace: def.ReservedSpace, MaxUsedSpace: Space{Bytes: 512 << 20},
			MinFreeSpace: def.MinFreeSpace, KeepDuration: 48 * time.Hour}, ""},
		{"keep-storage=1GB", nil, `unknown setting "keep-storage"`},
		{"max-used-space=120%", nil, "max-used-space: \"120%\": want a percentage"},
		{"reserved-space=lots", nil, "reserved-space: \"lots\": want a size"},
		{"keep-duration=2 days", nil, "keep-duration: time: unknown unit"},
		{"max-used-space", nil, "want KEY=VALUE"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePolicy(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestLoadPolicy: $HUSH_GC wins over the state dir's gc.conf, which wins over the default;
// an error names where the bad setting came from.
func TestLoadPolicy(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "gc.conf")
	def := DefaultPolicy()
	if p, err := LoadPolicy("", conf); err != nil || *p != def {
		t.Fatalf("no env, no file: %+v, %v", p, err)
	}
	if err := os.WriteFile(conf, []byte("# keep less\nmax-used-space=1GB # on a small disk\n\nkeep-duration=24h\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := LoadPolicy("", conf)
	if err != nil || p.MaxUsedSpace != (Space{Bytes: 1 << 30}) || p.KeepDuration != 24*time.Hour {
		t.Fatalf("from the file: %+v, %v", p, err)
	}
	if p, err := LoadPolicy("off", conf); err != nil || p != nil {
		t.Fatalf("HUSH_GC=off: %+v, %v", p, err)
	}
	if _, err := LoadPolicy("bogus=1", conf); err == nil || !strings.HasPrefix(err.Error(), "HUSH_GC: ") {
		t.Errorf("a bad HUSH_GC: %v", err)
	}
	if err := os.WriteFile(conf, []byte("max-used-space=much\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPolicy("", conf); err == nil || !strings.Contains(err.Error(), conf) {
		t.Errorf("a bad gc.conf: %v", err)
	}
}
