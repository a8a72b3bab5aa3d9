package fscopy

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	mode "github.com/tonistiigi/dchapes-mode"
)

func symbolic(t *testing.T, s string) *mode.Set {
	t.Helper()
	m, err := mode.ParseWithUmask(s, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &m
}

// TestCopyParents: COPY --parents keeps each match's path below the source root or the
// "/./" pivot, "**" reaches any depth, a matched directory brings everything below it, and
// a literal pattern that matches nothing is ErrNotFound (BuildKit's include patterns).
func TestCopyParents(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		dest     string
		want     []string // files below the destination root
		wantErr  error
	}{
		{name: "literal", patterns: []string{"src/a/one.txt"}, dest: "/out/", want: []string{"out/src/a/one.txt"}},
		{name: "no trailing slash", patterns: []string{"src/a/one.txt"}, dest: "/out", want: []string{"out/src/a/one.txt"}},
		{name: "one-level glob", patterns: []string{"src/*/two.txt"}, dest: "/g/", want: []string{"g/src/a/two.txt", "g/src/b/two.txt"}},
		{name: "recursive", patterns: []string{"src/**/*.go"}, dest: "/r/",
			want: []string{"r/src/a/a.go", "r/src/a/deep/d.go", "r/src/b/b.go"}},
		{name: "pivot", patterns: []string{"./src/./a/one.txt"}, dest: "/p/", want: []string{"p/a/one.txt"}},
		{name: "pivot dir", patterns: []string{"src/./b"}, dest: "/p/", want: []string{"p/b/b.go", "p/b/two.txt"}},
		{name: "directory brings its tree", patterns: []string{"src/a", "src/b/two.txt"}, dest: "/m/",
			want: []string{"m/src/a/a.go", "m/src/a/deep/d.go", "m/src/a/one.txt", "m/src/a/two.txt", "m/src/b/two.txt"}},
		{name: "relative dest", patterns: []string{"src/a/one.txt"}, dest: "rel/", want: []string{"w/rel/src/a/one.txt"}},
		{name: "wildcard matching nothing", patterns: []string{"src/*/none"}, dest: "/x/", want: nil},
		{name: "literal matching nothing", patterns: []string{"src/a/none"}, dest: "/x/", wantErr: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srcRoot, dstRoot := t.TempDir(), t.TempDir()
			mkTree(t, srcRoot, map[string]string{"src/a/one.txt": "1", "src/a/two.txt": "2", "src/b/two.txt": "2b",
				"src/a/a.go": "a", "src/a/deep/d.go": "d", "src/b/b.go": "b", "top.go": "t"})
			err := Copy(Source{Root: srcRoot}, tt.patterns, dstRoot, tt.dest, "/w", Options{Parents: true})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Copy = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := regularFiles(t, dstRoot); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("copied %v, want %v", got, tt.want)
			}
		})
	}
}

// TestCopyParentsDirMetadata: the directories on the way to a match are copied with
// their source mode, not made 0755.
func TestCopyParentsDirMetadata(t *testing.T) {
	needRoot(t)
	srcRoot, dstRoot := t.TempDir(), t.TempDir()
	mkTree(t, srcRoot, map[string]string{"src/a/one.txt": "1"})
	must(t, os.Chmod(filepath.Join(srcRoot, "src/a"), 0o750))
	must(t, os.Lchown(filepath.Join(srcRoot, "src/a"), 7, 8))
	if err := Copy(Source{Root: srcRoot}, []string{"src/a/one.txt"}, dstRoot, "/out/", "/", Options{Parents: true, KeepOwner: true}); err != nil {
		t.Fatal(err)
	}
	st := statT(t, filepath.Join(dstRoot, "out/src/a"))
	if st.Mode&0o7777 != 0o750 || st.Uid != 7 || st.Gid != 8 {
		t.Errorf("out/src/a: mode %o owner %d:%d, want 750 7:8", st.Mode&0o7777, st.Uid, st.Gid)
	}
}

func TestParentsDigestPatterns(t *testing.T) {
	got := ParentsDigestPatterns([]string{"src/a/one.txt", "src/**/*.go", "./src/./a/x", "src/./b", "*.txt"})
	want := []string{"/src/a/one.txt", "/src", "/src/a/x", "/src/b", "/"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParentsDigestPatterns = %q, want %q", got, want)
	}
}

// regularFiles lists the regular files below root, slash-separated and sorted.
func regularFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		out = append(out, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}
