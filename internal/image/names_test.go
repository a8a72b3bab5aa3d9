package image

import (
	"strings"
	"testing"
)

func TestNormalizeName(t *testing.T) {
	dg := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "busybox", want: "docker.io/library/busybox:latest"},
		{in: "busybox:1.36", want: "docker.io/library/busybox:1.36"},
		{in: "docker.io/library/busybox:latest", want: "docker.io/library/busybox:latest"},
		{in: "index.docker.io/library/busybox", want: "docker.io/library/busybox:latest"},
		{in: "me/app", want: "docker.io/me/app:latest"},
		{in: "ghcr.io/o/r:v1", want: "ghcr.io/o/r:v1"},
		{in: "localhost:5000/x", want: "localhost:5000/x:latest"},
		{in: "busybox@" + dg, want: "docker.io/library/busybox@" + dg},
		{in: "", wantErr: true},
		{in: "UPPER", wantErr: true},
		{in: "a b", wantErr: true},
		{in: " busybox", wantErr: true},
		{in: "busybox@sha256:short", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeName(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("NormalizeName(%q) = %q, want error", tt.in, got)
				}
				if !strings.Contains(err.Error(), tt.in) {
					t.Errorf("error %q does not name the input %q", err, tt.in)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizeName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestFamiliarName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"docker.io/library/busybox:latest", "busybox:latest"},
		{"docker.io/me/app:1", "me/app:1"},
		{"docker.io/library/a/b:1", "library/a/b:1"},
		{"ghcr.io/o/r:v1", "ghcr.io/o/r:v1"},
		{"localhost:5000/x:latest", "localhost:5000/x:latest"},
		{"docker.io/library/busybox@sha256:ab", "busybox@sha256:ab"},
	}
	for _, tt := range tests {
		if got := FamiliarName(tt.in); got != tt.want {
			t.Errorf("FamiliarName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
