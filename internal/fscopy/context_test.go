package fscopy

import (
	"path/filepath"
	"testing"

	"github.com/hush-build/hush/internal/buildcontext"
)

// TestCopyFromBuildContext wires a real build context (ignore files and all)
// into Copy, as the build does.
func TestCopyFromBuildContext(t *testing.T) {
	tree := map[string]string{
		"Dockerfile":              "FROM scratch\n",
		"app/main.go":             "main",
		"app/.env":                "TOKEN=x",
		"node_modules/a/index.js": "a",
		"node_modules/keep/ok.js": "ok",
		"vendor/v.go":             "v",
		"docs/readme.md":          "docs",
	}
	tests := []struct {
		name    string
		ignores map[string]string // extra files: ignore files
		want    map[string]string
	}{
		{
			name:    ".dockerignore with exception",
			ignores: map[string]string{".dockerignore": "**/.env\nnode_modules\n!node_modules/keep\nvendor\n.dockerignore\n"},
			want: map[string]string{
				"Dockerfile": "FROM scratch\n", "app/": "", "app/main.go": "main",
				"node_modules/": "", "node_modules/keep/": "", "node_modules/keep/ok.js": "ok",
				"docs/": "", "docs/readme.md": "docs",
			},
		},
		{
			name: "Dockerfile.dockerignore wins",
			ignores: map[string]string{
				".dockerignore":           "docs\n",
				"Dockerfile.dockerignore": "*\n!app\napp/.env\n",
			},
			want: map[string]string{"app/": "", "app/main.go": "main"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctxDir, dstRoot := t.TempDir(), t.TempDir()
			mkTree(t, ctxDir, tree)
			mkTree(t, ctxDir, tt.ignores)
			bc, err := buildcontext.Open(ctxDir, filepath.Join(ctxDir, "Dockerfile"))
			must(t, err)
			src := Source{Root: bc.Dir(), Exclude: bc.Excluded, MayIncludeUnder: bc.MayIncludeUnder}
			// Drop the ignore files themselves from the expectation unless kept.
			want := map[string]string{}
			for k, v := range tt.want {
				want[k] = v
			}
			for name, content := range tt.ignores {
				if ex, _ := bc.Excluded(name); !ex {
					want[name] = content
				}
			}
			must(t, Copy(src, []string{"."}, dstRoot, "/", "", Options{}))
			sameTree(t, listTree(t, dstRoot), want)
			// A digest over the same source ignores what Copy ignored.
			d1, err := Digest(src, []string{"."})
			must(t, err)
			mkTree(t, ctxDir, map[string]string{"node_modules/a/index.js": "changed", "app/.env": "TOKEN=y"})
			d2, err := Digest(src, []string{"."})
			must(t, err)
			if d1 != d2 {
				t.Error("a change to ignored files changed the digest")
			}
		})
	}
}
