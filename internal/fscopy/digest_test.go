package fscopy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDigest(t *testing.T) {
	base := map[string]string{
		"app/main.go":     "package main",
		"app/lib/util.go": "package lib",
		"app/link":        "->main.go",
		"README.md":       "readme",
		"secret.env":      "TOKEN=1",
	}
	tests := []struct {
		name     string
		patterns []string
		change   func(t *testing.T, root string)
		same     bool
	}{
		{name: "nothing changed", patterns: []string{"app", "*.md"}, change: func(*testing.T, string) {}, same: true},
		{
			name: "mtime changed", patterns: []string{"app"}, same: true,
			change: func(t *testing.T, root string) {
				tm := time.Unix(12345, 0)
				must(t, os.Chtimes(filepath.Join(root, "app/main.go"), tm, tm))
				must(t, os.Chtimes(filepath.Join(root, "app/lib"), tm, tm))
			},
		},
		{
			name: "owner changed", patterns: []string{"app"}, same: true,
			change: func(t *testing.T, root string) {
				needRoot(t)
				must(t, os.Lchown(filepath.Join(root, "app/main.go"), 99, 99))
			},
		},
		{
			name: "excluded file changed", patterns: []string{"."}, same: true,
			change: func(t *testing.T, root string) {
				must(t, os.WriteFile(filepath.Join(root, "secret.env"), []byte("TOKEN=2"), 0o644))
			},
		},
		{
			name: "content changed", patterns: []string{"app"},
			change: func(t *testing.T, root string) {
				must(t, os.WriteFile(filepath.Join(root, "app/lib/util.go"), []byte("package lib2"), 0o644))
			},
		},
		{
			name: "mode changed", patterns: []string{"app"},
			change: func(t *testing.T, root string) {
				must(t, os.Chmod(filepath.Join(root, "app/main.go"), 0o755))
			},
		},
		{
			name: "file renamed", patterns: []string{"app"},
			change: func(t *testing.T, root string) {
				must(t, os.Rename(filepath.Join(root, "app/lib/util.go"), filepath.Join(root, "app/lib/util2.go")))
			},
		},
		{
			name: "symlink target changed", patterns: []string{"app"},
			change: func(t *testing.T, root string) {
				must(t, os.Remove(filepath.Join(root, "app/link")))
				must(t, os.Symlink("lib", filepath.Join(root, "app/link")))
			},
		},
		{
			name: "file added", patterns: []string{"app"},
			change: func(t *testing.T, root string) {
				must(t, os.WriteFile(filepath.Join(root, "app/new.go"), nil, 0o644))
			},
		},
		{
			name: "wildcard matches one more", patterns: []string{"*.md"},
			change: func(t *testing.T, root string) {
				must(t, os.WriteFile(filepath.Join(root, "CHANGELOG.md"), nil, 0o644))
			},
		},
		{
			name: "file became a dir", patterns: []string{"."},
			change: func(t *testing.T, root string) {
				must(t, os.Remove(filepath.Join(root, "README.md")))
				must(t, os.Mkdir(filepath.Join(root, "README.md"), 0o755))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			mkTree(t, root, base)
			src := Source{Root: root, Exclude: excluder(t, "*.env")}
			before, err := Digest(src, tt.patterns)
			must(t, err)
			if !strings.HasPrefix(before, "sha256:") || len(before) != len("sha256:")+64 {
				t.Fatalf("digest %q is not sha256:<hex>", before)
			}
			tt.change(t, root)
			after, err := Digest(src, tt.patterns)
			must(t, err)
			if (before == after) != tt.same {
				t.Errorf("digest before %s after %s, want same=%v", before, after, tt.same)
			}
		})
	}
}

func TestDigestDistinguishesInputs(t *testing.T) {
	root := t.TempDir()
	mkTree(t, root, map[string]string{"a": "1", "b": "1", "d/a": "1"})
	src := Source{Root: root}
	seen := map[string]string{}
	for _, ps := range [][]string{{"a"}, {"b"}, {"a", "b"}, {"b", "a"}, {"d"}, {"*"}, {"d/a"}} {
		d, err := Digest(src, ps)
		must(t, err)
		key := strings.Join(ps, ",")
		if other, ok := seen[d]; ok {
			t.Errorf("patterns %s and %s have the same digest", key, other)
		}
		seen[d] = key
	}
	// Same tree in another root: same digest.
	other := t.TempDir()
	mkTree(t, other, map[string]string{"a": "1", "b": "1", "d/a": "1"})
	d1, err := Digest(src, []string{"*"})
	must(t, err)
	d2, err := Digest(Source{Root: other}, []string{"*"})
	must(t, err)
	if d1 != d2 {
		t.Errorf("identical trees in different roots: %s != %s", d1, d2)
	}
	// --exclude narrows what is covered.
	e1, err := Digest(src, []string{"d"}, "a")
	must(t, err)
	must(t, os.WriteFile(filepath.Join(root, "d/a"), []byte("2"), 0o644))
	e2, err := Digest(src, []string{"d"}, "a")
	must(t, err)
	if e1 != e2 {
		t.Error("a change to a --exclude'd file changed the digest")
	}
	if _, err := Digest(src, []string{"missing"}); err == nil {
		t.Error("Digest of a missing path succeeded")
	}
}

func BenchmarkDigest(b *testing.B) {
	root := b.TempDir()
	data := make([]byte, 64<<10)
	for i := 0; i < 200; i++ {
		p := filepath.Join(root, "d", string(rune('a'+i%26)), filepath.Base(b.Name())+string(rune('a'+i/26)))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Digest(Source{Root: root}, []string{"."}); err != nil {
			b.Fatal(err)
		}
	}
}
