package plan

import (
	"slices"
	"testing"
)

// TestParsePort: EXPOSE words as BuildKit's frontend reads them.
func TestParsePort(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string // nil: an error
	}{
		{"80", []string{"80/tcp"}},
		{"53/UDP", []string{"53/udp"}},
		{"8000-8002/tcp", []string{"8000/tcp", "8001/tcp", "8002/tcp"}},
		{"7000-7000", []string{"7000/tcp"}},
		{"132/sctp", []string{"132/sctp"}},
		{"8080:80", []string{"80/tcp"}},
		{"127.0.0.1:8080:80/udp", []string{"80/udp"}},
		{"[::1]:8080:80", []string{"80/tcp"}},
		{"9000-9001:80", []string{"80/tcp"}},
		{"80/quic", nil},
		{"8002-8000", nil},
		{"70000", nil},
		{"/tcp", nil},
		{"x", nil},
		{"bad-ip:1:80", nil},
		{"1-2:3-5", nil},
	} {
		got, err := parsePort(c.in)
		if c.want == nil {
			if err == nil {
				t.Errorf("parsePort(%q) = %v, want an error", c.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("parsePort(%q) = %v, %v, want %v", c.in, got, err, c.want)
		}
	}
}
