package outfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hush-build/hush/internal/hushtest"
)

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

func TestWriteRegularAndNew(t *testing.T) {
	tests := []struct {
		name     string
		existing string // content of an existing regular file; "" for a new path
		mode     os.FileMode
		wantMode os.FileMode
	}{
		{name: "new path", wantMode: 0o644},
		{name: "existing file keeps its mode", existing: "old", mode: 0o600, wantMode: 0o600},
		{name: "existing world-readable file", existing: "old", mode: 0o640, wantMode: 0o640},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "sub", "out")
			var oldIno uint64
			if tt.existing != "" {
				os.Mkdir(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte(tt.existing), tt.mode); err != nil {
					t.Fatal(err)
				}
				os.Chmod(p, tt.mode)
				oldIno = inode(t, p)
			}
			err := Write(p, 0o644, func(w io.Writer) error {
				// While it is written the content sits under a temp name, 0600.
				f := w.(*os.File)
				fi, err := f.Stat()
				if err != nil {
					return err
				}
				if f.Name() == p || fi.Mode().Perm() != 0o600 {
					t.Errorf("writing to %s mode %v, want a 0600 temp file", f.Name(), fi.Mode())
				}
				if b, _ := os.ReadFile(p); tt.existing != "" && string(b) != tt.existing {
					t.Errorf("final name changed while writing: %q", b)
				}
				_, err = io.WriteString(w, "new")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(p); err != nil || string(b) != "new" {
				t.Fatalf("content %q, %v", b, err)
			}
			fi, _ := os.Lstat(p)
			if !fi.Mode().IsRegular() || fi.Mode().Perm() != tt.wantMode {
				t.Fatalf("mode %v, want regular %v", fi.Mode(), tt.wantMode)
			}
			if tt.existing != "" && inode(t, p) == oldIno {
				t.Fatal("existing file rewritten in place, want a rename")
			}
			if got := names(t, filepath.Dir(p)); !slices.Equal(got, []string{"out"}) {
				t.Fatalf("left %v", got)
			}
		})
	}
}

func TestWriteFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out")
	if err := os.WriteFile(p, []byte("good"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(p, 0o644, func(w io.Writer) error {
		io.WriteString(w, "half")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "good" {
		t.Fatalf("failed write changed the file to %q", b)
	}
	if got := names(t, dir); !slices.Equal(got, []string{"out"}) {
		t.Fatalf("left %v", got)
	}
}

// Non-regular destinations are written through and stay what they were.
func TestWriteThrough(t *testing.T) {
	t.Run("fifo", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "fifo")
		if err := unix.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
		got := make(chan string, 1)
		go func() {
			b, err := os.ReadFile(p)
			if err != nil {
				got <- "error: " + err.Error()
				return
			}
			got <- string(b)
		}()
		if err := Write(p, 0o644, writeString("through the pipe")); err != nil {
			t.Fatal(err)
		}
		// Checked before waiting: a replaced fifo leaves the reader blocked.
		if fi, err := os.Lstat(p); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
			t.Fatalf("fifo replaced: %v %v", fi.Mode(), err)
		}
		select {
		case s := <-got:
			if s != "through the pipe" {
				t.Fatalf("reader got %q", s)
			}
		case <-time.After(time.Minute):
			t.Fatal("reader got nothing")
		}
	})
	// A device node of our own (like /dev/null), never the host's: a broken
	// Write must not be able to replace /dev/null.
	t.Run("char device", func(t *testing.T) {
		hushtest.RequireRoot(t)
		p := filepath.Join(t.TempDir(), "null")
		if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
			t.Fatalf("mknod: %v", err)
		}
		if err := Write(p, 0o644, writeString("discarded")); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(p); err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
			t.Fatalf("device replaced: %v %v", fi.Mode(), err)
		}
		if got := names(t, filepath.Dir(p)); !slices.Equal(got, []string{"null"}) {
			t.Fatalf("left %v", got)
		}
	})
	t.Run("symlink to a regular file", func(t *testing.T) {
		dir := t.TempDir()
		target := filepath.Join(dir, "target")
		if err := os.WriteFile(target, []byte("a much longer old content"), 0o600); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, "link")
		if err := os.Symlink("target", link); err != nil {
			t.Fatal(err)
		}
		if err := Write(link, 0o644, writeString("via link")); err != nil {
			t.Fatal(err)
		}
		if l, err := os.Readlink(link); err != nil || l != "target" {
			t.Fatalf("link replaced: %q %v", l, err)
		}
		if b, _ := os.ReadFile(target); string(b) != "via link" {
			t.Fatalf("target = %q, want it truncated and rewritten", b)
		}
	})
}

func TestWriteRefusesDirectory(t *testing.T) {
	dir := t.TempDir()
	err := Write(dir, 0o644, writeString("x"))
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("err = %v, want a directory error", err)
	}
	if got := names(t, dir); len(got) != 0 {
		t.Fatalf("wrote %v", got)
	}
	if got := names(t, filepath.Dir(dir)); len(got) != 1 {
		t.Fatalf("left %v beside it", got)
	}
}

// A killed run's temp names are removed by the next write to the same
// destination; nothing else is: not other destinations' temps, not names that
// merely look similar, not a symlink (or what it points to), not a temp a
// live writer holds.
func TestStaleTempsRemoved(t *testing.T) {
	for _, kind := range []string{"file", "dir"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			outside := filepath.Join(t.TempDir(), "precious")
			if err := os.WriteFile(outside, []byte("keep"), 0o644); err != nil {
				t.Fatal(err)
			}
			mk := func(name string) {
				if err := os.WriteFile(filepath.Join(dir, name), []byte("half"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			mk(".out.tmp-123")
			if err := os.MkdirAll(filepath.Join(dir, ".out.tmp-456", "rootfs", "etc"), 0o700); err != nil {
				t.Fatal(err)
			}
			// A symlink inside a stale dir is removed as a link, never followed.
			if err := os.Symlink(outside, filepath.Join(dir, ".out.tmp-456", "rootfs", "etc", "p")); err != nil {
				t.Fatal(err)
			}
			keep := []string{".out.tmp-", ".out.tmp-12a", ".out.tmp-1.bak", ".other.tmp-1", "out.tmp-1", "..out.tmp-1", ".out.tmp-999", ".out.tmp-777"}
			for _, n := range keep[:6] {
				mk(n)
			}
			if err := os.Symlink(outside, filepath.Join(dir, ".out.tmp-999")); err != nil {
				t.Fatal(err)
			}
			mk(".out.tmp-777")
			live, err := os.Open(filepath.Join(dir, ".out.tmp-777"))
			if err != nil {
				t.Fatal(err)
			}
			defer live.Close()
			if err := unix.Flock(int(live.Fd()), unix.LOCK_EX); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "out")
			if kind == "file" {
				err = Write(out, 0o644, writeString("x"))
			} else {
				var tmp string
				var release func()
				tmp, release, err = TempDir(out)
				if err == nil {
					keep = append(keep, filepath.Base(tmp))
					release()
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if kind == "file" {
				keep = append(keep, "out")
			}
			got := names(t, dir)
			slices.Sort(got)
			slices.Sort(keep)
			if !slices.Equal(got, keep) {
				t.Fatalf("left %v\nwant %v", got, keep)
			}
			if b, err := os.ReadFile(outside); err != nil || string(b) != "keep" {
				t.Fatalf("file outside touched: %q %v", b, err)
			}
		})
	}
}

func TestTempDirLockedWhileLive(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "rootfs")
	tmp, release, err := TempDir(dest)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(tmp); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("temp dir %v %v, want a 0700 dir", fi, err)
	}
	if err := RemoveStale(dest); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Fatalf("a live temp dir was removed: %v", err)
	}
	release()
	if err := RemoveStale(dest); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("released temp dir still there: %v", err)
	}
}

func TestIsRoot(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/", filepath.Join(dir, "toroot")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/tmp", filepath.Join(dir, "totmp")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want bool
	}{
		{"/", true},
		{"//", true},
		{"/tmp/..", true},
		{"/./", true},
		{filepath.Join(dir, "toroot"), true},
		{filepath.Join(dir, "toroot") + "/.", true},
		{filepath.Join(dir, "totmp") + "/..", true},
		{filepath.Join(dir, "totmp"), false},
		{dir, false},
		{filepath.Join(dir, "missing"), false},
		{"/tmp", false},
	}
	for _, tt := range tests {
		if got := IsRoot(tt.path); got != tt.want {
			t.Errorf("IsRoot(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestFollowDir(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	os.Mkdir(target, 0o755)
	os.WriteFile(filepath.Join(dir, "file"), nil, 0o644)
	os.Symlink("target", filepath.Join(dir, "todir"))
	os.Symlink("file", filepath.Join(dir, "tofile"))
	os.Symlink("nowhere", filepath.Join(dir, "dangling"))
	tests := []struct {
		path    string
		want    string
		wantErr string
	}{
		{path: target, want: target},
		{path: filepath.Join(dir, "missing"), want: filepath.Join(dir, "missing")},
		{path: filepath.Join(dir, "todir"), want: target},
		{path: filepath.Join(dir, "tofile"), wantErr: "not a directory"},
		{path: filepath.Join(dir, "dangling"), wantErr: "missing directory"},
	}
	for _, tt := range tests {
		got, err := FollowDir(tt.path)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("FollowDir(%s) err = %v, want %q", tt.path, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("FollowDir(%s) = %q, %v; want %q", tt.path, got, err, tt.want)
		}
	}
}
