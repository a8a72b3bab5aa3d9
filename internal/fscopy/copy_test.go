package fscopy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/patternmatcher"
)

func excluder(t *testing.T, patterns ...string) func(string) (bool, error) {
	t.Helper()
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	return func(rel string) (bool, error) { return pm.MatchesOrParentMatches(rel) }
}

var srcTree = map[string]string{
	"a.txt":             "A",
	"b.txt":             "B",
	"c.md":              "C",
	"dir/x.go":          "X",
	"dir/sub/y.go":      "Y",
	"dir/link":          "->x.go",
	"dir2/z.go":         "Z",
	"empty/":            "",
	"link-a.txt":        "->a.txt",
	"link-dir":          "->dir",
	"abs-link":          "->/a.txt",
	"escape":            "->../../../../a.txt",
	"escape-dir":        "->../../..",
	"secret.env":        "S",
	"node_modules/m.js": "M",
	"node_modules/keep": "K",
}

func TestCopy(t *testing.T) {
	tests := []struct {
		name     string
		exclude  []string
		dst      map[string]string
		patterns []string
		dest     string
		workdir  string
		opts     Options
		want     map[string]string
		wantErr  string
	}{
		{
			name: "directory copies its contents", patterns: []string{"dir"}, dest: "/out",
			want: map[string]string{"out/": "", "out/x.go": "X", "out/sub/": "", "out/sub/y.go": "Y", "out/link": "->x.go"},
		},
		{
			name: "directory with trailing slash dest", patterns: []string{"dir/"}, dest: "/out/",
			want: map[string]string{"out/": "", "out/x.go": "X", "out/sub/": "", "out/sub/y.go": "Y", "out/link": "->x.go"},
		},
		{
			name: "dot copies the whole root", exclude: []string{"dir*", "node_modules", "*link*", "escape*", "secret.env", "empty"},
			patterns: []string{"."}, dest: "/",
			want: map[string]string{"a.txt": "A", "b.txt": "B", "c.md": "C"},
		},
		{
			name: "file to new name", patterns: []string{"a.txt"}, dest: "/out/new.txt",
			want: map[string]string{"out/": "", "out/new.txt": "A"},
		},
		{
			name: "file to dir spelled with slash", patterns: []string{"a.txt"}, dest: "/out/",
			want: map[string]string{"out/": "", "out/a.txt": "A"},
		},
		{
			name: "file to existing dir", dst: map[string]string{"out/": ""}, patterns: []string{"a.txt"}, dest: "/out",
			want: map[string]string{"out/": "", "out/a.txt": "A"},
		},
		{
			name: "file replaces existing file", dst: map[string]string{"out": "old"}, patterns: []string{"a.txt"}, dest: "/out",
			want: map[string]string{"out": "A"},
		},
		{
			name: "several sources make dest a dir", patterns: []string{"a.txt", "b.txt"}, dest: "/out",
			want: map[string]string{"out/": "", "out/a.txt": "A", "out/b.txt": "B"},
		},
		{
			name: "glob expanding to several files", patterns: []string{"*.txt"}, dest: "/out",
			want: map[string]string{"out/": "", "out/a.txt": "A", "out/b.txt": "B", "out/link-a.txt": "A"},
		},
		{
			name: "glob matching directories copies their contents", patterns: []string{"dir?"}, dest: "/out/",
			want: map[string]string{"out/": "", "out/z.go": "Z"},
		},
		{
			name: "glob in a deeper component", patterns: []string{"d*/*.go"}, dest: "/out/",
			want: map[string]string{"out/": "", "out/x.go": "X", "out/z.go": "Z"},
		},
		{
			name: "character class", patterns: []string{"[ab].txt"}, dest: "/out/",
			want: map[string]string{"out/": "", "out/a.txt": "A", "out/b.txt": "B"},
		},
		{
			name: "relative dest uses workdir", patterns: []string{"a.txt"}, dest: "rel/", workdir: "/app",
			want: map[string]string{"app/": "", "app/rel/": "", "app/rel/a.txt": "A"},
		},
		{
			name: "dot dest is workdir", patterns: []string{"a.txt"}, dest: ".", workdir: "/app",
			want: map[string]string{"app/": "", "app/a.txt": "A"},
		},
		{
			name: "missing path is an error", patterns: []string{"a.txt", "missing.txt"}, dest: "/out/",
			wantErr: `"/missing.txt": not found`,
		},
		{
			name: "empty wildcard next to a match is fine", patterns: []string{"a.txt", "nomatch*"}, dest: "/out/",
			want: map[string]string{"out/": "", "out/a.txt": "A"},
		},
		{
			name: "only an empty wildcard copies nothing", patterns: []string{"nomatch*"}, dest: "/out/",
			want: map[string]string{},
		},
		{
			name: "excluded file is invisible", exclude: []string{"secret.env"}, patterns: []string{"secret.env"}, dest: "/out/",
			wantErr: "not found",
		},
		{
			name: "excluded file is not matched by globs", exclude: []string{"*.env", "b.txt", "link*"}, patterns: []string{"*.txt", "*.env"}, dest: "/out/",
			want: map[string]string{"out/": "", "out/a.txt": "A"},
		},
		{
			name: "exception under an excluded dir", exclude: []string{"node_modules", "!node_modules/keep"},
			patterns: []string{"node_modules"}, dest: "/nm",
			want: map[string]string{"nm/": "", "nm/keep": "K"},
		},
		{
			name: "symlink to an excluded file is not followed", exclude: []string{"a.txt"}, patterns: []string{"link-a.txt"}, dest: "/out/",
			wantErr: "not found",
		},
		{
			name: "source symlink is followed", patterns: []string{"link-a.txt"}, dest: "/out/",
			want: map[string]string{"out/": "", "out/link-a.txt": "A"},
		},
		{
			name: "source symlink to dir is followed", patterns: []string{"link-dir/sub"}, dest: "/out/",
			want: map[string]string{"out/": "", "out/y.go": "Y"},
		},
		{
			name: "absolute symlink resolves inside the root", patterns: []string{"abs-link"}, dest: "/out",
			want: map[string]string{"out": "A"},
		},
		{
			name: "dot-dot symlink stays inside the root", patterns: []string{"escape"}, dest: "/out",
			want: map[string]string{"out": "A"},
		},
		{
			name: "dot-dot path stays inside the root", patterns: []string{"../../../a.txt"}, dest: "/out",
			want: map[string]string{"out": "A"},
		},
		{
			name: "symlink to far above the root is the root", exclude: []string{"dir*", "node_modules", "*link*", "escape", "secret.env", "empty", "c.md"},
			patterns: []string{"escape-dir"}, dest: "/out/",
			want: map[string]string{"out/": "", "out/a.txt": "A", "out/b.txt": "B", "out/escape-dir": "->../../.."},
		},
		{
			name: "dir onto a file fails", dst: map[string]string{"out": "f"}, patterns: []string{"dir"}, dest: "/out",
			wantErr: "cannot copy to non-directory",
		},
		{
			name: "file onto a dir inside a tree fails", dst: map[string]string{"out/x.go/": ""}, patterns: []string{"dir"}, dest: "/out",
			wantErr: "cannot replace directory /out/x.go",
		},
		{
			name: "copy --exclude", patterns: []string{"dir"}, dest: "/out", opts: Options{Exclude: []string{"*.go"}},
			want: map[string]string{"out/": "", "out/sub/": "", "out/sub/y.go": "Y", "out/link": "->x.go"},
		},
		{
			name: "copy --exclude with exception", patterns: []string{"dir"}, dest: "/out", opts: Options{Exclude: []string{"sub", "!sub/y.go", "link"}},
			want: map[string]string{"out/": "", "out/x.go": "X", "out/sub/": "", "out/sub/y.go": "Y"},
		},
		{
			name: "empty dir", patterns: []string{"empty"}, dest: "/e",
			want: map[string]string{"e/": ""},
		},
		{
			name: "bad chmod", patterns: []string{"a.txt"}, dest: "/out", opts: Options{Chmod: modePtr(0o17777)},
			wantErr: "invalid chmod",
		},
		{
			name: "no patterns", dest: "/out", wantErr: "no source files were specified",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srcRoot, dstRoot := t.TempDir(), t.TempDir()
			mkTree(t, srcRoot, srcTree)
			mkTree(t, dstRoot, tt.dst)
			src := Source{Root: srcRoot}
			if tt.exclude != nil {
				src.Exclude = excluder(t, tt.exclude...)
			}
			err := Copy(src, tt.patterns, dstRoot, tt.dest, tt.workdir, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Copy error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Copy: %v", err)
			}
			sameTree(t, listTree(t, dstRoot), tt.want)
		})
	}
}

func modePtr(m os.FileMode) *os.FileMode { return &m }

func TestCopyNotFoundIsErrNotFound(t *testing.T) {
	srcRoot, dstRoot := t.TempDir(), t.TempDir()
	err := Copy(Source{Root: srcRoot}, []string{"nope"}, dstRoot, "/", "", Options{})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("error %v is not ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("error %q does not name the pattern", err)
	}
}

// TestCopyDestinationSymlinksStayInRoot plants symlinks in the destination
// that point at a directory outside it and checks nothing lands there.
func TestCopyDestinationSymlinksStayInRoot(t *testing.T) {
	tests := []struct {
		name     string
		dst      func(outside string) map[string]string
		patterns []string
		dest     string
		inRoot   string // where the file must land, relative to dstRoot/<outside>
	}{
		{
			name:     "absolute dir symlink",
			dst:      func(o string) map[string]string { return map[string]string{"out": "->" + o} },
			patterns: []string{"a.txt"}, dest: "/out/", inRoot: "a.txt",
		},
		{
			name:     "dot-dot dir symlink",
			dst:      func(o string) map[string]string { return map[string]string{"app/out": "->../../../../../../.." + o} },
			patterns: []string{"a.txt"}, dest: "/app/out/", inRoot: "a.txt",
		},
		{
			name:     "final file symlink",
			dst:      func(o string) map[string]string { return map[string]string{"out": "->" + o + "/victim"} },
			patterns: []string{"a.txt"}, dest: "/out", inRoot: "victim",
		},
		{
			name:     "symlink in the middle of dest",
			dst:      func(o string) map[string]string { return map[string]string{"etc": "->" + o} },
			patterns: []string{"dir"}, dest: "/etc/app", inRoot: "app/x.go",
		},
		{
			name:     "workdir through a symlink",
			dst:      func(o string) map[string]string { return map[string]string{"w": "->/../../" + o} },
			patterns: []string{"a.txt"}, dest: "sub/", inRoot: "sub/a.txt",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srcRoot, dstRoot, outside := t.TempDir(), t.TempDir(), t.TempDir()
			mkTree(t, srcRoot, srcTree)
			mkTree(t, outside, map[string]string{"victim": "untouched"})
			mkTree(t, dstRoot, tt.dst(outside))
			if err := Copy(Source{Root: srcRoot}, tt.patterns, dstRoot, tt.dest, "/w", Options{}); err != nil {
				t.Fatalf("Copy: %v", err)
			}
			sameTree(t, listTree(t, outside), map[string]string{"victim": "untouched"})
			got, ok := listTree(t, dstRoot)[strings.TrimPrefix(outside, "/")+"/"+tt.inRoot]
			if !ok || (got != "A" && got != "X") {
				t.Errorf("copied file is not at %s inside the destination root: %v", tt.inRoot, listTree(t, dstRoot))
			}
		})
	}
}

func TestCopyMetadata(t *testing.T) {
	needRoot(t)
	tests := []struct {
		name      string
		opts      Options
		wantUID   int
		wantGID   int
		wantFile  uint32 // perm bits of dir/x.go
		wantDir   uint32 // perm bits of dir/sub
		wantExec  uint32 // perm bits of dir/run.sh
		parentUID int
		// parentMode is the perm of the created destination dirs: 0755, or the octal
		// --chmod's permission bits (BuildKit's copier makes them with that mode).
		parentMode uint32
	}{
		{name: "context default is root owned, modes kept", wantUID: 0, wantGID: 0, wantFile: 0o640, wantDir: 0o750, wantExec: 0o4755},
		{name: "keep owner", opts: Options{KeepOwner: true}, wantUID: 1234, wantGID: 5678, wantFile: 0o640, wantDir: 0o750, wantExec: 0o4755},
		{name: "chown", opts: Options{Chown: &Owner{UID: 42, GID: 43}}, wantUID: 42, wantGID: 43, wantFile: 0o640, wantDir: 0o750, wantExec: 0o4755, parentUID: 42},
		{name: "chown wins over keep owner", opts: Options{Chown: &Owner{UID: 42, GID: 43}, KeepOwner: true}, wantUID: 42, wantGID: 43, wantFile: 0o640, wantDir: 0o750, wantExec: 0o4755, parentUID: 42},
		{name: "chmod", opts: Options{Chmod: modePtr(0o2711)}, wantFile: 0o2711, wantDir: 0o2711, wantExec: 0o2711, parentMode: 0o711},
		{name: "symbolic chmod", opts: Options{ChmodSymbolic: symbolic(t, "u+w,g-x,o=rx")}, wantFile: 0o645, wantDir: 0o745, wantExec: 0o4745},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srcRoot, dstRoot := t.TempDir(), t.TempDir()
			mkTree(t, srcRoot, map[string]string{"dir/x.go": "X", "dir/sub/y": "Y", "dir/run.sh": "#!/bin/sh", "dir/l": "->x.go"})
			for _, p := range []string{"dir/x.go", "dir/sub", "dir/run.sh", "dir/l"} {
				must(t, os.Lchown(filepath.Join(srcRoot, p), 1234, 5678))
			}
			must(t, os.Chmod(filepath.Join(srcRoot, "dir/x.go"), 0o640))
			must(t, os.Chmod(filepath.Join(srcRoot, "dir/sub"), 0o750))
			must(t, os.Chmod(filepath.Join(srcRoot, "dir/run.sh"), 0o755|os.ModeSetuid))
			mtime := mustTime(t, "2001-02-03T04:05:06Z")
			must(t, os.Chtimes(filepath.Join(srcRoot, "dir/x.go"), mtime, mtime))
			must(t, os.Chtimes(filepath.Join(srcRoot, "dir/sub"), mtime, mtime))

			if err := Copy(Source{Root: srcRoot}, []string{"dir"}, dstRoot, "/p1/p2/out", "", tt.opts); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				rel  string
				perm uint32
			}{{"p1/p2/out/x.go", tt.wantFile}, {"p1/p2/out/sub", tt.wantDir}, {"p1/p2/out/run.sh", tt.wantExec}, {"p1/p2/out/l", 0}} {
				st := statT(t, filepath.Join(dstRoot, c.rel))
				if int(st.Uid) != tt.wantUID || int(st.Gid) != tt.wantGID {
					t.Errorf("%s owner = %d:%d, want %d:%d", c.rel, st.Uid, st.Gid, tt.wantUID, tt.wantGID)
				}
				if c.perm != 0 && st.Mode&0o7777 != c.perm {
					t.Errorf("%s mode = %o, want %o", c.rel, st.Mode&0o7777, c.perm)
				}
			}
			for _, rel := range []string{"p1/p2/out/x.go", "p1/p2/out/sub"} {
				fi, err := os.Lstat(filepath.Join(dstRoot, rel))
				must(t, err)
				if !fi.ModTime().Equal(mtime) {
					t.Errorf("%s mtime = %v, want %v", rel, fi.ModTime(), mtime)
				}
			}
			wantParent := tt.parentMode
			if wantParent == 0 {
				wantParent = 0o755
			}
			for _, rel := range []string{"p1", "p1/p2", "p1/p2/out"} {
				st := statT(t, filepath.Join(dstRoot, rel))
				if st.Mode&0o7777 != wantParent || int(st.Uid) != tt.parentUID {
					t.Errorf("created parent %s: mode %o uid %d, want %o uid %d", rel, st.Mode&0o7777, st.Uid, wantParent, tt.parentUID)
				}
			}
		})
	}
}

func TestCopyHardLinks(t *testing.T) {
	srcRoot, dstRoot := t.TempDir(), t.TempDir()
	mkTree(t, srcRoot, map[string]string{"d/a": "same"})
	must(t, os.Link(filepath.Join(srcRoot, "d/a"), filepath.Join(srcRoot, "d/b")))
	if err := Copy(Source{Root: srcRoot}, []string{"d"}, dstRoot, "/", "", Options{}); err != nil {
		t.Fatal(err)
	}
	a, b := statT(t, filepath.Join(dstRoot, "a")), statT(t, filepath.Join(dstRoot, "b"))
	if a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("hard link not preserved: inodes %d %d nlink %d", a.Ino, b.Ino, a.Nlink)
	}
}

// TestCopyManyDirectories copies a tree with more directories than a copy keeps open at
// once, into a destination that has some of them already (so both the fresh-directory
// and the lookup paths run): every file lands with its content, existing files are
// replaced, and no descriptor is left open.
func TestCopyManyDirectories(t *testing.T) {
	srcRoot, dstRoot := t.TempDir(), t.TempDir()
	spec, want := map[string]string{}, map[string]string{"out/": ""}
	for d := 0; d < 3*maxOpenDirs; d++ {
		want[fmt.Sprintf("out/d%03d/", d)] = ""
		for f := 0; f < 3; f++ {
			name := fmt.Sprintf("d%03d/f%d", d, f)
			spec[name] = fmt.Sprintf("content %d %d", d, f)
			want["out/"+name] = spec[name]
		}
	}
	mkTree(t, srcRoot, spec)
	mkTree(t, dstRoot, map[string]string{"out/d000/f0": "old", "out/d100/f2": "old", "out/d101/": ""})
	before := openFDs(t)
	if err := Copy(Source{Root: srcRoot}, []string{"."}, dstRoot, "/out", "", Options{}); err != nil {
		t.Fatal(err)
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d descriptors open after the copy, %d before", after, before)
	}
	got := listTree(t, dstRoot)
	if len(got) != len(want) {
		t.Errorf("%d entries, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}
