package fscopy

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestResolveOwner(t *testing.T) {
	tests := []struct {
		spec    string
		want    Owner
		wantErr []string
	}{
		{spec: "0", want: Owner{UID: 0, GID: 0}},
		{spec: "1000", want: Owner{UID: 1000, GID: 1000}},
		{spec: "1000:50", want: Owner{UID: 1000, GID: 50}},
		{spec: "1000:", want: Owner{UID: 1000, GID: 1000}},
		{spec: "root", want: Owner{UID: 0, GID: 0}},
		{spec: "app", want: Owner{UID: 1001, GID: 1002}},
		{spec: "app:staff", want: Owner{UID: 1001, GID: 50}},
		{spec: "app:77", want: Owner{UID: 1001, GID: 77}},
		{spec: "5:staff", want: Owner{UID: 5, GID: 50}},
		{spec: "daemon:root", want: Owner{UID: 1, GID: 0}},
		{spec: "nobody", wantErr: []string{`"nobody"`, "/etc/passwd"}},
		{spec: "app:nogroup", wantErr: []string{`"nogroup"`, "/etc/group"}},
		{spec: "# a comment line", wantErr: []string{"/etc/passwd"}},
		{spec: "broken", wantErr: []string{"malformed"}},
		{spec: "", wantErr: []string{"empty user"}},
		{spec: ":5", wantErr: []string{"empty user"}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := ResolveOwner("testdata/rootfs", tt.spec)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("ResolveOwner(%q) = %v, want error", tt.spec, got)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ResolveOwner(%q) = %v, %v; want %v", tt.spec, got, err, tt.want)
			}
		})
	}
}

// TestResolveOwnerStaysInRootfs points /etc of a rootfs at a host directory
// (absolute and via ".."); the lookup must never read the host's files.
func TestResolveOwnerStaysInRootfs(t *testing.T) {
	host := t.TempDir()
	mkTree(t, host, map[string]string{"passwd": "hostonly:x:5:5::/:/bin/sh\n"})
	tests := []struct {
		name string
		link func() string
		want error
	}{
		{name: "inside", link: func() string { return "/real" }},
		{name: "absolute host path", link: func() string { return host }, want: ErrUnknownOwner},
		{name: "dot-dot host path", link: func() string { return "../../../../../../../.." + host }, want: ErrUnknownOwner},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rootfs := t.TempDir()
			mkTree(t, rootfs, map[string]string{
				"real/passwd": "root:x:0:0::/:/bin/sh\nonlyhere:x:9:9::/:/bin/sh\n",
				"etc":         "->" + tt.link(),
			})
			if _, err := ResolveOwner(rootfs, "hostonly"); !errors.Is(err, ErrUnknownOwner) {
				t.Errorf("host user resolved through an escaping symlink: %v", err)
			}
			got, err := ResolveOwner(rootfs, "onlyhere")
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Errorf("ResolveOwner = %v, %v; want %v", got, err, tt.want)
				}
				return
			}
			if err != nil || got != (Owner{UID: 9, GID: 9}) {
				t.Errorf("ResolveOwner = %v, %v; want {9 9}", got, err)
			}
		})
	}
}

func TestResolveOwnerMissingFiles(t *testing.T) {
	rootfs := t.TempDir()
	_, err := ResolveOwner(rootfs, "app")
	if !errors.Is(err, ErrUnknownOwner) || !strings.Contains(err.Error(), "/etc/passwd") {
		t.Errorf("error = %v, want ErrUnknownOwner naming /etc/passwd", err)
	}
	must(t, os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755))
	must(t, os.Mkdir(filepath.Join(rootfs, "etc/passwd"), 0o755))
	if _, err := ResolveOwner(rootfs, "app"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("error = %v, want not a regular file", err)
	}
}

// TestGroups: the group list of a USER, as BuildKit's executor computes it (runc's rules).
func TestGroups(t *testing.T) {
	root := t.TempDir()
	mkTree(t, root, map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n",
		"etc/group":  "root:x:0:\napp:x:1000:\nextra:x:3000:app,nobody\nother:x:3001:nobody,app\nwheel:x:10:root\n",
	})
	tests := []struct {
		spec string
		gid  uint32
		want []uint32
	}{
		{spec: "app", gid: 1000, want: []uint32{1000, 3000, 3001}},
		{spec: "1000", gid: 1000, want: []uint32{1000, 3000, 3001}}, // a uid alone is looked up
		{spec: "0", gid: 0, want: []uint32{0, 10}},                  // no USER: root's groups
		{spec: "app:other", gid: 3001, want: []uint32{3001}},        // an explicit group: no others
		{spec: "1000:1000", gid: 1000, want: []uint32{1000}},        // numeric pair: no lookup
		{spec: "4242", gid: 4242, want: []uint32{4242}},             // not in /etc/passwd
	}
	for _, tt := range tests {
		got, err := Groups(root, tt.spec, tt.gid)
		if err != nil {
			t.Errorf("Groups(%q) = %v", tt.spec, err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Groups(%q) = %v, want %v", tt.spec, got, tt.want)
		}
	}
	if _, err := Groups(root, "ghost", 0); err == nil {
		t.Error("Groups(ghost) succeeded for a user that is not in /etc/passwd")
	}
}
