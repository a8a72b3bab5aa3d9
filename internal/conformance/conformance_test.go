package conformance

import (
	"slices"
	"testing"
)

// TestNormaliseLayer: the runtime's empty dev, proc and sys stubs are left out; the same
// names holding something, or elsewhere, stay.
func TestNormaliseLayer(t *testing.T) {
	in := []Entry{{Path: "dev", Type: "dir"}, {Path: "etc", Type: "dir"}, {Path: "proc", Type: "dir"},
		{Path: "proc/x", Type: "file"}, {Path: "sys", Type: "file"}, {Path: "usr/dev", Type: "dir"}}
	var got []string
	for _, e := range normaliseLayer(in) {
		got = append(got, e.Path)
	}
	if want := []string{"etc", "proc", "proc/x", "sys", "usr/dev"}; !slices.Equal(got, want) {
		t.Errorf("normaliseLayer kept %q, want %q", got, want)
	}
}

// TestBaseLayers reads an image config and docker's inspect shape.
func TestBaseLayers(t *testing.T) {
	for _, in := range []string{
		`{"rootfs":{"type":"layers","diff_ids":["sha256:aa"]}}`,
		`[{"Id":"sha256:x","RootFS":{"Type":"layers","Layers":["sha256:aa"]}}]`,
	} {
		isBase, err := BaseLayers([]byte(in))
		if err != nil {
			t.Fatalf("BaseLayers(%s) = %v", in, err)
		}
		if !isBase("sha256:aa") || isBase("sha256:bb") {
			t.Errorf("BaseLayers(%s) does not tell sha256:aa from sha256:bb", in)
		}
	}
	if _, err := BaseLayers([]byte(`{"rootfs":{}}`)); err == nil {
		t.Error("a base without layers was accepted")
	}
}

func TestEntryString(t *testing.T) {
	for _, c := range []struct {
		e    Entry
		want string
	}{
		{Entry{Path: "a", Type: "file", Mode: 0o644, UID: 1, GID: 2, Size: 3, Sum: "ab"}, "a file 0644 1:2 3 sha256:ab"},
		{Entry{Path: "l", Type: "symlink", Mode: 0o777, Link: "/x"}, "l symlink 0777 0:0 -> /x"},
		{Entry{Path: "d", Type: "dir", Mode: 0o1777, Xattrs: map[string]string{"user.b": "2", "user.a": "1"}}, "d dir 1777 0:0 xattr:user.a=1 xattr:user.b=2"},
	} {
		if got := c.e.String(); got != c.want {
			t.Errorf("String() = %q, want %q", got, c.want)
		}
	}
}
