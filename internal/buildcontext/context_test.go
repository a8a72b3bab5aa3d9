package buildcontext

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestExcluded(t *testing.T) {
	tests := []struct {
		name     string
		ignore   string
		excluded []string
		included []string
	}{
		{
			name:     "no ignore file",
			included: []string{"a", "secret.env", ".git/config"},
		},
		{
			name:     "comments blank lines and leading slash",
			ignore:   "\ufeff# a comment\n\n/secret.env\n  build/  \n",
			excluded: []string{"secret.env", "build", "build/out.o", "build/deep/x"},
			included: []string{"# a comment", "src/secret.env", "buildx", "main.go"},
		},
		{
			name:     "exception re-includes one file under an excluded dir",
			ignore:   "node_modules\n!node_modules/keep.txt\n",
			excluded: []string{"node_modules", "node_modules/left-pad/index.js"},
			included: []string{"node_modules/keep.txt", "keep.txt"},
		},
		{
			name:     "double star and later exclusion wins",
			ignore:   "**/*.log\n!important.log\n*.md\n!README*.md\nREADME-secret.md\n",
			excluded: []string{"a.log", "x/y/z.log", "NOTES.md", "README-secret.md"},
			included: []string{"important.log", "README.md", "README-x.md", "a.logx"},
		},
		{
			name:     "everything but",
			ignore:   "*\n!src\n",
			excluded: []string{"Dockerfile", ".env", "docs/x"},
			included: []string{"src", "src/main.go", ""},
		},
		{
			name:     "dot dot and dot paths are cleaned",
			ignore:   "a/../secret\n./b\n",
			excluded: []string{"secret", "b", "./b/c", "x/../secret"},
			included: []string{"a/secret"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.ignore != "" {
				writeFile(t, filepath.Join(dir, ".dockerignore"), tt.ignore)
			}
			c, err := Open(dir, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range tt.excluded {
				if got, err := c.Excluded(p); err != nil || !got {
					t.Errorf("Excluded(%q) = %v, %v; want true", p, got, err)
				}
			}
			for _, p := range tt.included {
				if got, err := c.Excluded(p); err != nil || got {
					t.Errorf("Excluded(%q) = %v, %v; want false", p, got, err)
				}
			}
		})
	}
}

func TestOpenIgnoreFilePrecedence(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string // relative to a temp root; context is root/ctx
		dockerfile string            // relative to root; "" means default
		wantFile   string            // relative to root; "" means none
		excluded   string
		included   string
	}{
		{
			name:     "dir .dockerignore",
			files:    map[string]string{"ctx/.dockerignore": "a\n"},
			wantFile: "ctx/.dockerignore", excluded: "a", included: "b",
		},
		{
			name: "Dockerfile.dockerignore wins",
			files: map[string]string{
				"ctx/.dockerignore":           "a\n",
				"ctx/Dockerfile":              "FROM scratch\n",
				"ctx/Dockerfile.dockerignore": "b\n",
			},
			wantFile: "ctx/Dockerfile.dockerignore", excluded: "b", included: "a",
		},
		{
			name: "named Dockerfile outside the context",
			files: map[string]string{
				"ctx/.dockerignore":              "a\n",
				"df/web.Dockerfile":              "FROM scratch\n",
				"df/web.Dockerfile.dockerignore": "c\n",
				"df/Dockerfile.dockerignore":     "a\nb\n",
			},
			dockerfile: "df/web.Dockerfile",
			wantFile:   "df/web.Dockerfile.dockerignore", excluded: "c", included: "a",
		},
		{
			name: "named Dockerfile without its own ignore file falls back",
			files: map[string]string{
				"ctx/.dockerignore":           "a\n",
				"ctx/Dockerfile.dockerignore": "b\n",
				"ctx/web.Dockerfile":          "FROM scratch\n",
			},
			dockerfile: "ctx/web.Dockerfile",
			wantFile:   "ctx/.dockerignore", excluded: "a", included: "b",
		},
		{
			name:     "none",
			files:    map[string]string{"ctx/Dockerfile": "FROM scratch\n"},
			included: "a",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.Mkdir(filepath.Join(root, "ctx"), 0o755); err != nil {
				t.Fatal(err)
			}
			for name, content := range tt.files {
				writeFile(t, filepath.Join(root, name), content)
			}
			df := ""
			if tt.dockerfile != "" {
				df = filepath.Join(root, tt.dockerfile)
			}
			c, err := Open(filepath.Join(root, "ctx"), df)
			if err != nil {
				t.Fatal(err)
			}
			want := ""
			if tt.wantFile != "" {
				want = filepath.Join(root, tt.wantFile)
			}
			if c.IgnoreFile() != want {
				t.Errorf("IgnoreFile() = %q, want %q", c.IgnoreFile(), want)
			}
			if c.Dir() != filepath.Join(root, "ctx") {
				t.Errorf("Dir() = %q", c.Dir())
			}
			if tt.excluded != "" {
				if ok, _ := c.Excluded(tt.excluded); !ok {
					t.Errorf("Excluded(%q) = false, want true", tt.excluded)
				}
			}
			if ok, _ := c.Excluded(tt.included); ok {
				t.Errorf("Excluded(%q) = true, want false", tt.included)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name    string
		ignore  string
		notDir  bool
		wantErr []string
	}{
		{name: "bad pattern names file and line", ignore: "# c\nok\n\n[\n", wantErr: []string{".dockerignore:4", `"["`}},
		{name: "lone exclamation", ignore: "a\n!\n", wantErr: []string{".dockerignore:2", "illegal exclusion"}},
		{name: "context is a file", notDir: true, wantErr: []string{"not a directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx := dir
			if tt.notDir {
				ctx = filepath.Join(dir, "file")
				writeFile(t, ctx, "x")
			} else {
				writeFile(t, filepath.Join(dir, ".dockerignore"), tt.ignore)
			}
			_, err := Open(ctx, "")
			if err == nil {
				t.Fatal("Open succeeded, want error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestMayIncludeUnder(t *testing.T) {
	tests := []struct {
		ignore string
		dir    string
		want   bool
	}{
		{"node_modules\n", "node_modules", false},
		{"node_modules\n!node_modules/keep.txt\n", "node_modules", true},
		{"node_modules\nvendor\n!node_modules/keep.txt\n", "vendor", false},
		{"*\n!**/keep.txt\n", "anything/deep", true},
		{"a\n!a/b/*.txt\n", "a/b", true},
		{"a\n!a/b/*.txt\n", "a/c", false},
		{"a\n!a/*/x\n", "a/c/d", true},
	}
	for _, tt := range tests {
		t.Run(tt.ignore+"@"+tt.dir, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, ".dockerignore"), tt.ignore)
			c, err := Open(dir, "")
			if err != nil {
				t.Fatal(err)
			}
			if got := c.MayIncludeUnder(tt.dir); got != tt.want {
				t.Errorf("MayIncludeUnder(%q) = %v, want %v", tt.dir, got, tt.want)
			}
		})
	}
}
