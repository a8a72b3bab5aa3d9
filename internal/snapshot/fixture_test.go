package snapshot

import (
	"archive/tar"
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hush-build/hush/internal/hushtest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// fixtureTime is the mtime every fixture entry gets, so two builds of the
// same tree are identical regardless of creation order.
var fixtureTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func needRoot(t *testing.T) {
	t.Helper()
	hushtest.RequireRootFor(t, "creates devices, chowns files, sets trusted.* xattrs and mounts overlayfs")
}

// buildTree creates, under dir, the tree described by the .tree spec file:
// one entry per line, "kind path args...", see testdata/basic.tree.
func buildTree(t *testing.T, spec, dir string) {
	t.Helper()
	f, err := os.Open(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := buildEntry(dir, line); err != nil {
			t.Fatalf("%s:%d: %v", spec, ln, err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	setAllTimes(t, dir, fixtureTime)
}

func buildEntry(dir, line string) error {
	fields := strings.Fields(line)
	if len(fields) < 2 {
		return fmt.Errorf("short line %q", line)
	}
	kind, p := fields[0], filepath.Join(dir, fields[1])
	args := fields[2:]
	if (kind == "symlink" || kind == "hardlink" || kind == "xattr") && len(args) == 0 {
		return fmt.Errorf("missing target in %q", line)
	}
	var numErr error
	num := func(i int, base int) int {
		if i >= len(args) {
			numErr = fmt.Errorf("missing field %d in %q", i+3, line)
			return 0
		}
		n, err := strconv.ParseInt(args[i], base, 64)
		if err != nil {
			numErr = fmt.Errorf("bad number %q in %q", args[i], line)
		}
		return int(n)
	}
	own := func(mode int) error {
		uid, gid := num(1, 10), num(2, 10)
		if numErr != nil {
			return numErr
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return err
		}
		return unix.Fchmodat(unix.AT_FDCWD, p, uint32(mode), 0)
	}
	switch kind {
	case "dir":
		if err := os.Mkdir(p, 0o700); err != nil {
			return err
		}
		return own(num(0, 8))
	case "file":
		// Content is the rest of the line after the five leading fields.
		if len(args) < 3 {
			return fmt.Errorf("short file line %q", line)
		}
		content := strings.Join(args[3:], " ")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			return err
		}
		return own(num(0, 8))
	case "fifo":
		if err := unix.Mkfifo(p, 0o600); err != nil {
			return err
		}
		return own(num(0, 8))
	case "char":
		if num(4, 10); numErr != nil {
			return numErr
		}
		if err := unix.Mknod(p, unix.S_IFCHR|0o600, int(unix.Mkdev(uint32(num(3, 10)), uint32(num(4, 10))))); err != nil {
			return err
		}
		return own(num(0, 8))
	case "socket":
		return unix.Mknod(p, unix.S_IFSOCK|0o600, 0)
	case "whiteout":
		return unix.Mknod(p, unix.S_IFCHR, 0)
	case "symlink":
		uid, gid := num(1, 10), num(2, 10)
		if numErr != nil {
			return numErr
		}
		if err := os.Symlink(args[0], p); err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	case "hardlink":
		return os.Link(filepath.Join(dir, args[0]), p)
	case "opaque":
		return unix.Lsetxattr(p, opaqueXattr, []byte("y"), 0)
	case "xattr":
		return unix.Lsetxattr(p, args[0], []byte(strings.Join(args[1:], " ")), 0)
	}
	return fmt.Errorf("unknown kind %q", kind)
}

// setAllTimes sets the mtime of everything under dir, children first.
func setAllTimes(t *testing.T, dir string, mt time.Time) {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		paths = append(paths, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := unix.NsecToTimespec(mt.UnixNano())
	for i := len(paths) - 1; i >= 0; i-- {
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, paths[i], []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatal(err)
		}
	}
}

func layerBytes(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteLayer(dir, &buf); err != nil {
		t.Fatalf("WriteLayer(%s): %v", dir, err)
	}
	return buf.Bytes()
}

// listing renders tar headers one per line for golden comparison.
func listing(t *testing.T, b []byte) string {
	t.Helper()
	var out strings.Builder
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading tar: %v", err)
		}
		fmt.Fprintf(&out, "%-28s %c %04o %d:%d size=%d", h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.Size)
		if h.Linkname != "" {
			fmt.Fprintf(&out, " link=%s", h.Linkname)
		}
		if h.Typeflag == tar.TypeChar || h.Typeflag == tar.TypeBlock {
			fmt.Fprintf(&out, " dev=%d,%d", h.Devmajor, h.Devminor)
		}
		var keys []string
		for k := range h.PAXRecords {
			if strings.HasPrefix(k, paxXattrPrefix) {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&out, " %s=%q", strings.TrimPrefix(k, paxXattrPrefix), h.PAXRecords[k])
		}
		if h.Uname != "" || h.Gname != "" || !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
			fmt.Fprintf(&out, " NONDETERMINISTIC(uname=%q gname=%q atime=%v ctime=%v)", h.Uname, h.Gname, h.AccessTime, h.ChangeTime)
		}
		out.WriteString("\n")
	}
	return out.String()
}

// tarEntry is one entry for makeTar.
type tarEntry struct {
	name, link string
	typ        byte
	body       string
	mode       int64
}

func makeTar(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: mode,
			Size: int64(len(e.body)), ModTime: fixtureTime, Format: tar.FormatPAX}
		if e.typ == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := io.WriteString(tw, e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
