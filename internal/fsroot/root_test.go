package fsroot

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hush-build/hush/internal/hushtest"
)

// hostile builds a root whose symlinks point at an outside directory in every way a build
// step or a base image could spell it, plus that outside directory with a victim file.
func hostile(t *testing.T) (*Root, string, string) {
	t.Helper()
	base := t.TempDir()
	rootDir := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{rootDir, outside, filepath.Join(rootDir, "real")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "victim"), []byte("host file"), 0o644); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"abs":  "/",                    // the container's root
		"out":  outside,                // a host path, spelled absolutely
		"up":   "../../../../../../..", // climbing out
		"rel":  "../outside",           // the outside dir, relative to root's parent
		"loop": "loop",
		"dang": "/nonexistent/dir",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(rootDir, name)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := Open(rootDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, rootDir, outside
}

// snapshot records every entry below dir with its mode, size, owner and mtime.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		out[p] = strings.Join([]string{
			os.FileMode(st.Mode).String(), time.Unix(st.Mtim.Unix()).String(),
			string(rune(st.Uid)), string(rune(st.Size)),
		}, "|")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOperationsStayInRoot runs every operation through every hostile link and checks that
// the outside directory is untouched and that what was created landed inside the root.
func TestOperationsStayInRoot(t *testing.T) {
	epoch := time.Unix(1000, 0)
	type op struct {
		name string
		do   func(r *Root) error
		// inside is a path (relative to the root dir) that must exist afterwards, if any.
		inside string
	}
	var ops []op
	for _, link := range []string{"abs", "out", "up", "rel"} {
		via := func(rest string) string { return link + "/" + rest }
		// Where the kernel, resolving in the root, puts the entry.
		// Through "abs" and "up" the kernel lands at the root itself; through "out" and "rel"
		// the link dangles inside the root, and mkdir -p refuses it.
		dangles := link == "out" || link == "rel"
		inside := "newdir/sub"
		if dangles {
			inside = ""
		}
		ops = append(ops,
			op{"mkdirall via " + link, func(r *Root) error {
				_, err := r.MkdirAll(via("newdir/sub"), 0o755, Owner{UID: 0, GID: 0})
				if dangles && !errors.Is(err, unix.EEXIST) {
					t.Errorf("mkdir -p through a dangling link: %v, want EEXIST", err)
				}
				return err
			}, inside},
			op{"create via " + link, func(r *Root) error {
				f, err := r.OpenFile(via("created"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
				if err == nil {
					f.Close()
				}
				return err
			}, ""},
			op{"remove victim via " + link, func(r *Root) error { return r.Remove(via("victim")) }, ""},
			op{"removeall victim via " + link, func(r *Root) error { return r.RemoveAll(via("victim")) }, ""},
			op{"chtimes victim via " + link, func(r *Root) error { return r.Chtimes(via("victim"), epoch, epoch) }, ""},
			op{"lchown victim via " + link, func(r *Root) error { return r.Lchown(via("victim"), 4242, 4242) }, ""},
			op{"chmod victim via " + link, func(r *Root) error { return r.Chmod(via("victim"), 0o777) }, ""},
			op{"symlink via " + link, func(r *Root) error { return r.Symlink("/etc/shadow", via("victim")) }, ""},
			op{"mknod via " + link, func(r *Root) error { return r.Mknod(via("fifo"), unix.S_IFIFO|0o600, 0) }, ""},
			op{"hardlink victim via " + link, func(r *Root) error { return r.Link(via("victim"), "real/linked") }, ""},
			op{"rename victim via " + link, func(r *Root) error { return r.Rename(via("victim"), "real/moved") }, ""},
			op{"xattr victim via " + link, func(r *Root) error {
				return r.Lsetxattr(via("victim"), "trusted.hush", []byte("x"))
			}, ""},
		)
	}
	for _, o := range ops {
		t.Run(o.name, func(t *testing.T) {
			if strings.Contains(o.name, "lchown") {
				hushtest.RequireRootFor(t, "chown")
			}
			r, rootDir, outside := hostile(t)
			before := snapshot(t, outside)
			_ = o.do(r) // failing is fine (the victim does not exist in the root); escaping is not
			after := snapshot(t, outside)
			for p, v := range before {
				if after[p] != v {
					t.Errorf("outside entry %s changed: %q -> %q", p, v, after[p])
				}
			}
			for p := range after {
				if _, ok := before[p]; !ok {
					t.Errorf("outside entry %s was created", p)
				}
			}
			if o.inside != "" {
				if _, err := os.Lstat(filepath.Join(rootDir, o.inside)); err != nil {
					t.Errorf("expected %s inside the root: %v", o.inside, err)
				}
			}
		})
	}
}

func TestMkdirAllReportsCreatedAndSetsMode(t *testing.T) {
	r, rootDir, _ := hostile(t)
	old := unix.Umask(0o077)
	defer unix.Umask(old)
	created, err := r.MkdirAll("/abs/real/a/b", 0o755, Owner{UID: -1, GID: -1})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(created, ",") != "abs/real/a,abs/real/a/b" {
		t.Errorf("created = %q, want abs/real/a, abs/real/a/b", created)
	}
	fi, err := os.Stat(filepath.Join(rootDir, "real/a/b"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("mode of real/a/b = %v (%v), want 0755 whatever the umask", fi.Mode(), err)
	}
	if _, err := r.MkdirAll("loop/x", 0o755, Owner{-1, -1}); !errors.Is(err, unix.ELOOP) {
		t.Errorf("mkdir through a symlink loop: %v, want ELOOP", err)
	}
	if err := os.WriteFile(filepath.Join(rootDir, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := r.MkdirAll("file/x", 0o755, Owner{-1, -1}); !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("mkdir below a file: %v, want ENOTDIR", err)
	}
	// A dangling absolute link resolves inside the root: mkdir -p through it is refused
	// (the link itself exists), never created on the host.
	if _, err := r.MkdirAll("dang/x", 0o755, Owner{-1, -1}); err == nil {
		if _, err := os.Lstat("/nonexistent"); err == nil {
			t.Fatal("created /nonexistent on the host")
		}
	}
}

func TestRemoveAllNeverFollows(t *testing.T) {
	r, rootDir, outside := hostile(t)
	// A directory holding links to the outside, removed recursively.
	if err := os.MkdirAll(filepath.Join(rootDir, "tree/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(rootDir, "tree/sub/toout")); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveAll("tree"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(rootDir, "tree")); !os.IsNotExist(err) {
		t.Errorf("tree still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "victim")); err != nil {
		t.Errorf("outside victim gone: %v", err)
	}
	// RemoveAll of a link removes the link, not its target.
	if err := r.RemoveAll("out"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(outside, "victim")); err != nil {
		t.Errorf("outside victim gone: %v", err)
	}
	if err := r.RemoveAll("missing/deeper"); err != nil {
		t.Errorf("RemoveAll of a missing path: %v", err)
	}
	if err := r.RemoveAll("/"); err == nil {
		t.Error("RemoveAll of the root itself succeeded")
	}
}

func TestStatFollowsInsideRoot(t *testing.T) {
	r, rootDir, _ := hostile(t)
	if err := os.MkdirAll(filepath.Join(rootDir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootDir, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"/etc/passwd", "abs/etc/passwd", "up/etc/passwd", "/../../etc/passwd"} {
		f, err := r.Open(name)
		if err != nil {
			t.Errorf("open %s: %v", name, err)
			continue
		}
		b := make([]byte, 4)
		_, _ = f.Read(b)
		f.Close()
		if string(b) != "root" {
			t.Errorf("open %s read %q, want the root's /etc/passwd", name, b)
		}
	}
	fi, err := r.Lstat("abs")
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("Lstat(abs) = %v, %v; want a symlink", fi, err)
	}
	if target, err := r.Readlink("abs"); err != nil || target != "/" {
		t.Errorf("Readlink(abs) = %q, %v", target, err)
	}
	fi, err = r.Stat("abs")
	if err != nil || !fi.IsDir() {
		t.Errorf("Stat(abs) = %v, %v; want the root dir", fi, err)
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	for name, target := range map[string]string{"abs": "/a/b", "rel": "a/../a/b", "up": "../../../..",
		"loop1": "loop2", "loop2": "loop1", "dangling": "/not/yet"} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "a/b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	tests := []struct {
		p           string
		followFinal bool
		want        string
		wantErr     error
	}{
		{p: "/", want: ""},
		{p: "a/b", want: "a/b"},
		{p: "abs", followFinal: true, want: "a/b"},
		{p: "abs", want: "abs"},
		{p: "abs/c", want: "a/b/c"},
		{p: "rel/c", want: "a/b/c"},
		{p: "up/a", followFinal: true, want: "a"},
		{p: "../../../a", want: "a"},
		{p: "missing/../a", want: "a"},
		{p: "file/x", want: "file/x"},
		{p: "loop1", followFinal: true, wantErr: unix.ELOOP},
		{p: "loop1", want: "loop1"},
		{p: "dangling/x", want: "not/yet/x"},
	}
	for _, tt := range tests {
		t.Run(tt.p, func(t *testing.T) {
			got, err := root.ResolveVisit(tt.p, tt.followFinal, nil)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("ResolveVisit(%q) = %q, want %q", tt.p, got, tt.want)
			}
		})
	}
}
