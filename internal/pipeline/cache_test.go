package pipeline

import (
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/codeship"
)

// TestServiceCache: `cached: true` is a registry cache beside the service's image, per
// branch, falling back to default_cache_branch (master by default), exported mode=max with
// ignore-error (a cache never failed a Codeship build); an image name with no registry
// namespace gets a warning and no cache.
func TestServiceCache(t *testing.T) {
	tests := []struct {
		name, image, branch, fallback string
		from                          []string
		to                            string
		warn                          string
	}{
		{name: "branch and master", image: "reg.example/team/app:latest", branch: "feature/x",
			from: []string{"reg.example/team/app:hush-cache-feature-x", "reg.example/team/app:hush-cache-master"},
			to:   "reg.example/team/app:hush-cache-feature-x"},
		{name: "on the fallback branch", image: "reg.example/team/app:1", branch: "master",
			from: []string{"reg.example/team/app:hush-cache-master"}, to: "reg.example/team/app:hush-cache-master"},
		{name: "default_cache_branch", image: "team/app:1", branch: "dev", fallback: "main",
			from: []string{"index.docker.io/team/app:hush-cache-dev", "index.docker.io/team/app:hush-cache-main"},
			to:   "index.docker.io/team/app:hush-cache-dev"},
		{name: "detached: import only", image: "reg.example/app:1", branch: "",
			from: []string{"reg.example/app:hush-cache-master"}},
		{name: "no namespace", image: "docker.io/library/app:latest", branch: "main", warn: "needs the image named in a registry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := &codeship.Service{Name: "app", Cached: true, DefaultCacheBranch: tt.fallback}
			from, to, warn := serviceCache(svc, tt.image, tt.branch)
			if tt.warn != "" {
				if !strings.Contains(warn, tt.warn) || from != nil || to != nil {
					t.Fatalf("warn %q, from %v, to %v", warn, from, to)
				}
				return
			}
			var got []string
			for _, f := range from {
				got = append(got, f.Ref)
			}
			if strings.Join(got, " ") != strings.Join(tt.from, " ") {
				t.Errorf("from %q, want %q", got, tt.from)
			}
			switch {
			case tt.to == "" && len(to) != 0:
				t.Errorf("exports %+v, want none", to)
			case tt.to != "" && (len(to) != 1 || to[0].Ref != tt.to || !to[0].Max || !to[0].IgnoreError):
				t.Errorf("exports %+v, want %s mode=max ignore-error", to, tt.to)
			}
		})
	}
	if got := cacheTag(strings.Repeat("b", 200)); len(got) != 128 {
		t.Errorf("a long branch's tag has %d characters", len(got))
	}
}
