package buildflags

import (
	"fmt"
	"strings"

	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hush-build/hush/internal/plan"
)

// ParsePlatforms reads --platform as buildx does: each value a comma-separated list of
// os/arch[/variant] or "local" (the host's), normalized, duplicates dropped, in order.
func ParsePlatforms(values []string) ([]ocispecs.Platform, error) {
	var out []ocispecs.Platform
	seen := map[string]bool{}
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			p, err := plan.ParsePlatform(s)
			if err != nil {
				return nil, fmt.Errorf("--platform: %w", err)
			}
			if f := plan.FormatPlatform(p); !seen[f] {
				seen[f] = true
				out = append(out, p)
			}
		}
	}
	return out, nil
}
