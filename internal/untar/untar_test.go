package untar

import (
	"archive/tar"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hush-build/hush/internal/fsroot"
	"github.com/hush-build/hush/internal/hushtest"
)

type entry struct {
	name, link string
	typ        byte
	body       string
	mode       int64
	uid        int
	pax        map[string]string
	major      int64
}

var epoch = time.Unix(1700000000, 0)

func tarOf(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: mode, Uid: e.uid,
			ModTime: epoch, Format: tar.FormatPAX, PAXRecords: e.pax, Devmajor: e.major}
		if e.typ == 0 {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// modes are the ways hush extracts: an ADD archive into a rootfs, a layer into the
// snapshot store (as root, and in a user namespace), and an export onto the host.
var modes = map[string]Options{
	"add":            {},
	"layer":          {Overlay: true, RootMeta: true},
	"rootless-layer": {Overlay: true, RootMeta: true, UserNS: true},
	"export":         {ForHost: true},
}

// noDevices reports the modes that must not make device nodes.
func noDevices(mode string) bool { return mode == "export" || mode == "rootless-layer" }

// TestHostileArchives extracts every class of hostile archive in every mode and checks that
// nothing outside the root changed, plus what each class must leave inside it.
func TestHostileArchives(t *testing.T) {
	hushtest.RequireRoot(t)
	tests := []struct {
		name    string
		entries []entry
		// check inspects the extracted root (host path) in mode m; nil checks nothing more.
		check func(t *testing.T, dir, mode string, err error)
	}{
		{"dotdot name", []entry{{name: "../../evil", body: "x"}}, landsAt("evil")},
		{"dotdot in the middle", []entry{{name: "a/../../../evil", body: "x"}}, landsAt("evil")},
		{"absolute name", []entry{{name: "/evil", body: "x"}}, landsAt("evil")},
		// The link dangles inside the root, and mkdir -p through a dangling link fails, as
		// it would in the container.
		{"file through absolute host symlink", []entry{
			{name: "l", typ: tar.TypeSymlink, link: "OUTSIDE"},
			{name: "l/evil", body: "x"},
		}, fails(os.ErrExist)},
		{"file through climbing symlink", []entry{
			{name: "l", typ: tar.TypeSymlink, link: "../../../.."},
			{name: "l/evil", body: "x"},
		}, landsAt("evil")},
		{"file through symlink to /", []entry{
			{name: "l", typ: tar.TypeSymlink, link: "/"},
			{name: "l/etc/evil", body: "x"},
		}, landsAt("etc/evil")},
		{"hardlink to dotdot name", []entry{{name: "h", typ: tar.TypeLink, link: "../keep"}}, failsOrLinksInside("h")},
		{"hardlink to absolute host path", []entry{{name: "h", typ: tar.TypeLink, link: "/etc/passwd"}}, failsOrLinksInside("h")},
		{"hardlink through symlink", []entry{
			{name: "l", typ: tar.TypeSymlink, link: "OUTSIDE"},
			{name: "h", typ: tar.TypeLink, link: "l/keep"},
		}, failsOrLinksInside("h")},
		{"hardlink to a directory", []entry{
			{name: "d", typ: tar.TypeDir, mode: 0o755},
			{name: "h", typ: tar.TypeLink, link: "d"},
		}, fails(ErrUnsafeEntry)},
		{"block and char devices", []entry{
			{name: "sda", typ: tar.TypeBlock, major: 8, mode: 0o666},
			{name: "mem", typ: tar.TypeChar, major: 1, mode: 0o666},
			{name: "fifo", typ: tar.TypeFifo},
		}, devices},
		{"setuid and capabilities", []entry{
			{name: "su", body: "#!", mode: 0o6755, pax: map[string]string{
				"SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
			}},
		}, setid},
		{"forged overlay xattrs", []entry{
			{name: "d", typ: tar.TypeDir, mode: 0o755, pax: map[string]string{
				"SCHILY.xattr.trusted.overlay.opaque":    "y",
				"SCHILY.xattr.trusted.overlay.redirect":  "/etc",
				"SCHILY.xattr.user.overlay.opaque":       "y",
				"SCHILY.xattr.user.overlay.redirect":     "/etc",
				"SCHILY.xattr.user.fuseoverlayfs.opaque": "y",
				// fuse-overlayfs shows the owner and mode this names instead of the files'
				"SCHILY.xattr.user.containers.override_stat": "0:0:04755",
			}},
		}, noOverlayXattrs},
		{"trusted xattr", []entry{
			{name: "t", body: "x", pax: map[string]string{"SCHILY.xattr.trusted.hush-test": "v"}},
		}, trustedXattr},
		{"duplicate entries, later wins", []entry{
			{name: "f", body: "first"},
			{name: "f", body: "second"},
			{name: "d", typ: tar.TypeSymlink, link: "OUTSIDE"},
			{name: "d", typ: tar.TypeDir, mode: 0o755},
			{name: "d/inner", body: "in the dir"},
			{name: "x", typ: tar.TypeDir, mode: 0o755},
			{name: "x/child", body: "c"},
			{name: "x", body: "dir became file"},
		}, duplicates},
		{"whiteout climbing out", []entry{{name: "../.wh.keep"}}, noFail},
		{"whiteout through symlink", []entry{
			{name: "l", typ: tar.TypeSymlink, link: "OUTSIDE"},
			{name: "l/.wh.keep"},
			{name: "l/.wh..wh..opq"},
		}, fails(os.ErrExist)},
		{"whiteout through symlink to /", []entry{
			{name: "l", typ: tar.TypeSymlink, link: "/"},
			{name: "l/.wh.keep"},
		}, noFail},
		{"whiteout of dotdot", []entry{{name: "a/.wh.."}}, failsInLayerMode},
	}
	for _, tt := range tests {
		for mode, opts := range modes {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				base := t.TempDir()
				outside := filepath.Join(base, "outside")
				dir := filepath.Join(base, "root")
				for _, d := range []string{outside, dir} {
					if err := os.Mkdir(d, 0o755); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.WriteFile(filepath.Join(outside, "keep"), []byte("safe"), 0o644); err != nil {
					t.Fatal(err)
				}
				before := listTree(t, base, dir)
				var entries []entry
				for _, e := range tt.entries {
					e.link = strings.ReplaceAll(e.link, "OUTSIDE", outside)
					entries = append(entries, e)
				}
				root, err := fsroot.Open(dir)
				if err != nil {
					t.Fatal(err)
				}
				defer root.Close()
				err = Extract(bytes.NewReader(tarOf(t, entries...)), root, opts)
				if after := listTree(t, base, dir); after != before {
					t.Fatalf("outside the root changed (err %v):\n--- before\n%s--- after\n%s", err, before, after)
				}
				if tt.check != nil {
					tt.check(t, dir, mode, err)
				}
			})
		}
	}
}

// listTree lists everything under base except the extraction root.
func listTree(t *testing.T, base, skip string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == skip {
			return filepath.SkipDir
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		b.WriteString(p + " " + os.FileMode(st.Mode).String() + " " + time.Unix(st.Mtim.Unix()).String() + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func landsAt(rel string) func(t *testing.T, dir, mode string, err error) {
	return func(t *testing.T, dir, mode string, err error) {
		if err != nil {
			t.Fatalf("Extract: %v", err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, rel)); err != nil || string(b) != "x" {
			t.Errorf("entry should land at %s inside the root: %q, %v", rel, b, err)
		}
	}
}

func failsOrLinksInside(name string) func(t *testing.T, dir, mode string, err error) {
	return func(t *testing.T, dir, mode string, err error) {
		if err != nil {
			return
		}
		if _, lerr := os.Lstat(filepath.Join(dir, name)); lerr == nil {
			t.Errorf("a hard link to a name missing from the root was made: %s", name)
		}
	}
}

func fails(want error) func(t *testing.T, dir, mode string, err error) {
	return func(t *testing.T, dir, mode string, err error) {
		if !errors.Is(err, want) {
			t.Errorf("err = %v, want %v", err, want)
		}
	}
}

func noFail(t *testing.T, dir, mode string, err error) {
	if err != nil {
		t.Errorf("Extract: %v", err)
	}
}

func failsInLayerMode(t *testing.T, dir, mode string, err error) {
	if strings.HasSuffix(mode, "layer") && !errors.Is(err, ErrUnsafeEntry) {
		t.Errorf("err = %v, want ErrUnsafeEntry", err)
	}
}

func devices(t *testing.T, dir, mode string, err error) {
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	for _, name := range []string{"sda", "mem"} {
		_, lerr := os.Lstat(filepath.Join(dir, name))
		if noDevices(mode) && lerr == nil {
			t.Errorf("%s made device node %s", mode, name)
		}
		if !noDevices(mode) && lerr != nil {
			t.Errorf("%s: device node %s missing: %v", mode, name, lerr)
		}
	}
	if fi, err := os.Lstat(filepath.Join(dir, "fifo")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("fifo missing: %v", err)
	}
}

func setid(t *testing.T, dir, mode string, err error) {
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	fi, err := os.Lstat(filepath.Join(dir, "su"))
	if err != nil {
		t.Fatal(err)
	}
	hasSetID := fi.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0
	_, capErr := unix.Lgetxattr(filepath.Join(dir, "su"), "security.capability", make([]byte, 64))
	if mode == "export" && (hasSetID || capErr == nil) {
		t.Errorf("export kept set-id bits (%v) or file capabilities (%v)", fi.Mode(), capErr)
	}
	if mode != "export" && (!hasSetID || capErr != nil) {
		t.Errorf("%s lost set-id bits (%v) or file capabilities (%v)", mode, fi.Mode(), capErr)
	}
}

func noOverlayXattrs(t *testing.T, dir, mode string, err error) {
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	for _, x := range []string{"trusted.overlay.opaque", "trusted.overlay.redirect", "user.overlay.opaque",
		"user.overlay.redirect", "user.fuseoverlayfs.opaque", "user.containers.override_stat"} {
		if _, err := unix.Lgetxattr(filepath.Join(dir, "d"), x, make([]byte, 64)); err == nil {
			t.Errorf("forged %s was set", x)
		}
	}
}

// trustedXattr: a trusted.* xattr lands in a rootfs and a layer as root; not on the host
// and not in a user namespace (which cannot set one).
func trustedXattr(t *testing.T, dir, mode string, err error) {
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	_, xerr := unix.Lgetxattr(filepath.Join(dir, "t"), "trusted.hush-test", make([]byte, 8))
	if drop := mode == "export" || mode == "rootless-layer"; drop != (xerr != nil) {
		t.Errorf("%s: trusted.hush-test read back: %v", mode, xerr)
	}
}

func duplicates(t *testing.T, dir, mode string, err error) {
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	for name, want := range map[string]string{"f": "second", "d/inner": "in the dir", "x": "dir became file"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", name, b, err, want)
		}
	}
	if fi, err := os.Lstat(filepath.Join(dir, "d")); err != nil || !fi.IsDir() {
		t.Errorf("d should be a real directory replacing the symlink: %v %v", fi, err)
	}
}

// TestOverlayFormat checks the whiteout and opaque translation of layer mode, as root
// (trusted.overlay.opaque) and in a user namespace (user.overlay.opaque).
func TestOverlayFormat(t *testing.T) {
	hushtest.RequireRoot(t)
	for _, tt := range []struct {
		opts   Options
		opaque string
	}{
		{Options{Overlay: true, RootMeta: true}, OpaqueXattr},
		{Options{Overlay: true, RootMeta: true, UserNS: true}, UserOpaqueXattr},
	} {
		t.Run(tt.opaque, func(t *testing.T) { checkOverlayFormat(t, tt.opts, tt.opaque) })
	}
}

func checkOverlayFormat(t *testing.T, opts Options, opaque string) {
	dir := t.TempDir()
	root, err := fsroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	data := tarOf(t,
		entry{name: "./", typ: tar.TypeDir, mode: 0o751},
		entry{name: "gone", body: "soon a whiteout"},
		entry{name: ".wh.gone"},
		entry{name: "d/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "d/.wh..wh..opq"},
		entry{name: "h", typ: tar.TypeLink, link: "later"},
		entry{name: "later", body: "target written after its link"},
	)
	if err := Extract(bytes.NewReader(data), root, opts); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(dir, "gone"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("gone: want a 0/0 char device, got mode %#o rdev %d (%v)", st.Mode, st.Rdev, err)
	}
	for _, x := range []string{OpaqueXattr, UserOpaqueXattr} {
		v := make([]byte, 4)
		n, err := unix.Lgetxattr(filepath.Join(dir, "d"), x, v)
		if x == opaque && (err != nil || string(v[:n]) != "y") {
			t.Errorf("d: opaque xattr %s = %q, %v", x, v[:max(n, 0)], err)
		}
		if x != opaque && err == nil {
			t.Errorf("d: %s set besides %s", x, opaque)
		}
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o751 || !fi.ModTime().Equal(epoch) {
		t.Errorf("root entry metadata not applied: %v %v", fi, err)
	}
	if err := unix.Lstat(filepath.Join(dir, "h"), &st); err != nil || st.Nlink != 2 {
		t.Errorf("deferred hard link h: nlink %d, %v", st.Nlink, err)
	}
}

// TestOwnerOutsideTheNamespace: rootless, a chown the namespace cannot map (EINVAL) is
// explained; as root the error is left as it is.
func TestOwnerOutsideTheNamespace(t *testing.T) {
	x := &extractor{opts: Options{UserNS: true}}
	err := x.ownerErr(unix.EINVAL, 100000, 100000)
	if !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), "owner 100000:100000 is outside this user's subordinate IDs") {
		t.Errorf("rootless: %v", err)
	}
	x.opts.UserNS = false
	if err := x.ownerErr(unix.EINVAL, 100000, 100000); err != unix.EINVAL {
		t.Errorf("as root: %v", err)
	}
}
