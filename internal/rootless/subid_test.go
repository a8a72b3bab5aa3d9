package rootless

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/hushtest"
)

func TestReadRanges(t *testing.T) {
	tests := []struct {
		name string
		id   uint32
		want []Range
	}{
		{"alice", 1001, []Range{{100000, 65536}, {300000, 1000}, {400000, 10}}},
		{"bob", 1002, []Range{{165536, 65536}}},
		{"carol", 1003, nil},
	}
	for _, tt := range tests {
		got, err := ReadRanges("testdata/subuid", tt.name, tt.id)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: ranges %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestReadRangesBadLine(t *testing.T) {
	for _, text := range []string{"alice:100000\n", "alice:x:10\n", "alice:1:0\n", "alice:4294967295:2\n"} {
		_, err := parseRanges(strings.NewReader("bob:1:1\n"+text), "/etc/subuid", "alice", 1001)
		if err == nil || !strings.Contains(err.Error(), "/etc/subuid:2: want NAME:START:COUNT") {
			t.Errorf("%q: error %v, want one naming /etc/subuid:2", text, err)
		}
	}
}

func TestMapArgs(t *testing.T) {
	got := MapArgs(1001, []Range{{100000, 65536}, {300000, 1000}})
	want := []string{"0", "1001", "1", "1", "100000", "65536", "65537", "300000", "1000"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MapArgs = %v, want %v", got, want)
	}
	if n := Size([]Range{{100000, 65536}, {300000, 1000}}); n != 66537 {
		t.Errorf("Size = %d, want 66537", n)
	}
}

func TestIsIdentityMap(t *testing.T) {
	for in, want := range map[string]bool{
		"         0          0 4294967295\n": true,
		"0 1001 1\n1 100000 65536\n":         false,
		"0 0 1\n":                            false,
	} {
		if got := isIdentityMap([]byte(in)); got != want {
			t.Errorf("isIdentityMap(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestFormatMap(t *testing.T) {
	got := formatMap("         0       1001          1\n         1     100000      65536\n")
	if want := "0→1001 (1), 1→100000 (65536)"; got != want {
		t.Errorf("formatMap = %q, want %q", got, want)
	}
}

// TestTmpfsDir: $XDG_RUNTIME_DIR/hush when that is a tmpfs (made 0700), and a refusal
// when the dir there is not the user's own private one.
func TestTmpfsDir(t *testing.T) {
	xdg := hushtest.ShmDir(t)
	t.Setenv("XDG_RUNTIME_DIR", xdg)
	dir, err := TmpfsDir()
	if err != nil || dir != filepath.Join(xdg, "hush") {
		t.Fatalf("TmpfsDir = %q, %v; want %s/hush", dir, err, xdg)
	}
	if fi, err := os.Lstat(dir); err != nil || fi.Mode().Perm() != 0o700 || !fi.IsDir() {
		t.Errorf("%s: %v %v, want a 0700 dir", dir, fi.Mode(), err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := TmpfsDir(); err == nil || !strings.Contains(err.Error(), "mode 0700") {
		t.Errorf("a 0755 dir was accepted: %v", err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/tmp", dir); err != nil {
		t.Fatal(err)
	}
	if _, err := TmpfsDir(); err == nil {
		t.Error("a symlink was accepted")
	}
}
