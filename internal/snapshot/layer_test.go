package snapshot

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func treeSpecs(t *testing.T) []string {
	t.Helper()
	specs, err := filepath.Glob("testdata/*.tree")
	if err != nil || len(specs) == 0 {
		t.Fatalf("no testdata/*.tree fixtures: %v", err)
	}
	return specs
}

// TestWriteLayerGolden compares the header listing of each fixture tree with
// testdata/<name>.golden (run with -update to rewrite).
func TestWriteLayerGolden(t *testing.T) {
	needRoot(t)
	for _, spec := range treeSpecs(t) {
		name := strings.TrimSuffix(filepath.Base(spec), ".tree")
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			buildTree(t, spec, dir)
			got := listing(t, layerBytes(t, dir))
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("reading golden (run with -update to create): %v", err)
			}
			if got != string(want) {
				t.Errorf("listing mismatch\n--- got\n%s--- want\n%s", got, want)
			}
		})
	}
}

// TestRoundTrip: WriteLayer -> Unpack -> WriteLayer gives identical bytes,
// and the unpacked dir is in overlay format.
func TestRoundTrip(t *testing.T) {
	needRoot(t)
	for _, spec := range treeSpecs(t) {
		t.Run(filepath.Base(spec), func(t *testing.T) {
			src := t.TempDir()
			buildTree(t, spec, src)
			first := layerBytes(t, src)
			dst := filepath.Join(t.TempDir(), "unpacked")
			if err := Unpack(bytes.NewReader(first), dst); err != nil {
				t.Fatalf("Unpack: %v", err)
			}
			second := layerBytes(t, dst)
			if !bytes.Equal(first, second) {
				t.Fatalf("round trip changed the layer\n--- first\n%s--- second\n%s", listing(t, first), listing(t, second))
			}
		})
	}
}

// TestUnpackOverlayFormat checks what the basic fixture becomes on disk.
func TestUnpackOverlayFormat(t *testing.T) {
	needRoot(t)
	src := t.TempDir()
	buildTree(t, "testdata/basic.tree", src)
	dst := t.TempDir()
	if err := Unpack(bytes.NewReader(layerBytes(t, src)), dst); err != nil {
		t.Fatal(err)
	}
	stat := func(rel string) unix.Stat_t {
		t.Helper()
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(dst, rel), &st); err != nil {
			t.Fatalf("lstat %s: %v", rel, err)
		}
		return st
	}
	tests := []struct {
		rel   string
		check func(st unix.Stat_t) bool
		want  string
	}{
		{"removed", func(st unix.Stat_t) bool { return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 }, "whiteout 0/0 char device"},
		{"usr/gone", func(st unix.Stat_t) bool { return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 }, "whiteout 0/0 char device"},
		{"dev-null", func(st unix.Stat_t) bool { return st.Rdev == unix.Mkdev(1, 3) }, "char device 1,3"},
		{"usr/bin/su", func(st unix.Stat_t) bool { return st.Mode&0o7777 == 0o4755 }, "setuid 4755"},
		{"home/app", func(st unix.Stat_t) bool { return st.Uid == 1000 && st.Mode&0o777 == 0o700 }, "uid 1000 mode 0700"},
		{"home/app/pipe", func(st unix.Stat_t) bool { return st.Mode&unix.S_IFMT == unix.S_IFIFO }, "fifo"},
		{"etc/hosts", func(st unix.Stat_t) bool { return st.Nlink == 2 && st.Ino == stat("etc/hosts.bak").Ino }, "hard link shared with etc/hosts.bak"},
		{"etc", func(st unix.Stat_t) bool { return st.Mtim.Sec == fixtureTime.Unix() }, "dir mtime restored after children"},
	}
	for _, tt := range tests {
		if st := stat(tt.rel); !tt.check(st) {
			t.Errorf("%s: want %s, got mode %#o rdev %d uid %d nlink %d", tt.rel, tt.want, st.Mode, st.Rdev, st.Uid, st.Nlink)
		}
	}
	if _, err := os.Lstat(filepath.Join(dst, "home/app/sock")); !os.IsNotExist(err) {
		t.Errorf("socket should have been skipped, lstat err = %v", err)
	}
	if v, err := lgetxattr(filepath.Join(dst, "var"), opaqueXattr); err != nil || string(v) != "y" {
		t.Errorf("var: opaque xattr = %q, %v; want y", v, err)
	}
	if v, err := lgetxattr(filepath.Join(dst, "etc/hosts"), "user.hush.test"); err != nil || string(v) != "hello" {
		t.Errorf("etc/hosts: user.hush.test = %q, %v; want hello", v, err)
	}
}

// TestWriteLayerDeterministic builds the same tree twice in different dirs
// (different inodes and creation times) and writes each twice.
func TestWriteLayerDeterministic(t *testing.T) {
	needRoot(t)
	for _, spec := range treeSpecs(t) {
		t.Run(filepath.Base(spec), func(t *testing.T) {
			a, b := t.TempDir(), t.TempDir()
			buildTree(t, spec, a)
			buildTree(t, spec, b)
			a1, a2, b1 := layerBytes(t, a), layerBytes(t, a), layerBytes(t, b)
			if !bytes.Equal(a1, a2) {
				t.Error("same dir written twice differs")
			}
			if !bytes.Equal(a1, b1) {
				t.Errorf("same tree in two dirs differs\n--- a\n%s--- b\n%s", listing(t, a1), listing(t, b1))
			}
		})
	}
}

func TestWriteLayerRules(t *testing.T) {
	needRoot(t)
	tests := []struct {
		name    string
		setup   func(dir string) error
		wantErr string
		want    string // exact listing substring
	}{
		{
			name: "reserved whiteout prefix in upper",
			setup: func(dir string) error {
				return os.WriteFile(filepath.Join(dir, ".wh.sneaky"), nil, 0o644)
			},
			wantErr: `".wh.sneaky" uses the reserved whiteout prefix`,
		},
		{
			name: "overlay xattrs are dropped, user.overlay.opaque counts as opaque",
			setup: func(dir string) error {
				d := filepath.Join(dir, "d")
				if err := os.Mkdir(d, 0o755); err != nil {
					return err
				}
				if err := unix.Lsetxattr(d, "trusted.overlay.origin", []byte("x"), 0); err != nil {
					return err
				}
				return unix.Lsetxattr(d, userOpaqueXattr, []byte("y"), 0)
			},
			want: "d/                           5 0755 0:0 size=0\nd/.wh..wh..opq",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := tt.setup(dir); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			err := WriteLayer(dir, &buf)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := listing(t, buf.Bytes())
			if !strings.Contains(got, tt.want) || strings.Contains(got, "overlay") {
				t.Errorf("listing:\n%s\nwant containing %q and no overlay xattr", got, tt.want)
			}
		})
	}
}

// TestUnpackReplaces: later entries replace earlier ones without following
// symlinks, whiteouts replace files, and "./"-prefixed names are accepted.
func TestUnpackReplaces(t *testing.T) {
	needRoot(t)
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	if err := os.WriteFile(outside, []byte("safe"), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(base, "layer")
	tarball := makeTar(t,
		tarEntry{name: "./", typ: tar.TypeDir, mode: 0o751},
		tarEntry{name: "./l", typ: tar.TypeSymlink, link: outside},
		tarEntry{name: "./l", body: "replaced"},
		tarEntry{name: "./f", body: "gone soon"},
		tarEntry{name: "./.wh.f"},
		tarEntry{name: "./d/", typ: tar.TypeDir},
		tarEntry{name: "./d", body: "dir became file"},
	)
	if err := Unpack(bytes.NewReader(tarball), dst); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "safe" {
		t.Errorf("write followed a symlink: outside = %q", b)
	}
	tests := []struct {
		rel  string
		ifmt uint32
		body string
	}{
		{"l", unix.S_IFREG, "replaced"},
		{"f", unix.S_IFCHR, ""},
		{"d", unix.S_IFREG, "dir became file"},
	}
	for _, tt := range tests {
		var st unix.Stat_t
		p := filepath.Join(dst, tt.rel)
		if err := unix.Lstat(p, &st); err != nil || st.Mode&unix.S_IFMT != tt.ifmt {
			t.Errorf("%s: mode %#o err %v, want type %#o", tt.rel, st.Mode, err, tt.ifmt)
			continue
		}
		if tt.ifmt == unix.S_IFREG {
			if b, _ := os.ReadFile(p); string(b) != tt.body {
				t.Errorf("%s = %q, want %q", tt.rel, b, tt.body)
			}
		}
	}
	if fi, err := os.Stat(dst); err != nil || fi.Mode().Perm() != 0o751 {
		t.Errorf("root entry metadata not applied: %v %v", fi.Mode(), err)
	}
}
