package netns

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hush-build/hush/internal/hushtest"
)

// newNS makes a namespace under a test dir; the cleanup releases it even when the test
// fails half-way (the bind mount is in the test's mount namespace).
func newNS(t *testing.T, name string) (*NS, string) {
	t.Helper()
	hushtest.RequireRootFor(t, "network namespaces")
	dir := t.TempDir()
	ns, err := New(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns, dir
}

// TestNewNamespace: the namespace is not the host's, its loopback is up, and Close leaves
// no mount or file.
func TestNewNamespace(t *testing.T) {
	ns, dir := newNS(t, "step-1")
	var host, st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &host); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(ns.Path, &st); err != nil {
		t.Fatal(err)
	}
	if st.Ino == host.Ino {
		t.Fatal("the namespace is the host's")
	}
	fd, err := unix.Open(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ifs []net.Interface
	err = inNamespace(fd, func() (err error) { ifs, err = net.Interfaces(); return err })
	unix.Close(fd)
	if err != nil || len(ifs) != 1 || ifs[0].Name != "lo" || ifs[0].Flags&net.FlagUp == 0 {
		t.Errorf("inside the namespace, want only lo, up: %v %+v", err, ifs)
	}
	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ns.Path); !os.IsNotExist(err) {
		t.Errorf("namespace file left behind: %v", err)
	}
	if ms, _ := hushtest.MountsUnder("/proc/self/mountinfo", dir); len(ms) > 0 {
		t.Errorf("mounts left: %v", ms)
	}
}

// TestConnect: with each helper the namespace gets an interface with an address; Close
// stops the helper.
func TestConnect(t *testing.T) {
	for _, h := range Helpers {
		t.Run(h, func(t *testing.T) { testConnect(t, h) })
	}
}

func testConnect(t *testing.T, helper string) {
	bin := hushtest.RequireBinary(t, helper)
	ns, _ := newNS(t, "step-"+helper)
	if up, _ := ns.hasLink(); up {
		t.Fatal("a fresh namespace already has a link")
	}
	if err := ns.connect(context.Background(), helper, bin); err != nil {
		t.Fatal(err)
	}
	if up, err := ns.hasLink(); !up || err != nil {
		t.Fatalf("no link after Connect: %v", err)
	}
	pid := ns.helper.Process.Pid
	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err == nil {
		if b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat")); !strings.Contains(string(b), ") Z") {
			t.Errorf("%s (pid %d) still running", helper, pid)
		}
	}
}

// TestNewUnderACommaPath: runc splits namespace paths at commas, so a dir whose path has
// one gets the namespace bound in a private dir on /dev/shm, which Close removes.
func TestNewUnderACommaPath(t *testing.T) {
	hushtest.RequireRootFor(t, "network namespaces")
	dir := filepath.Join(t.TempDir(), "a,b")
	ns, err := New(dir, "step.netns")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(ns.Path, ",") || !strings.HasPrefix(ns.Path, "/dev/shm/hush-netns-") {
		t.Errorf("namespace bound at %s, want a comma-free path on /dev/shm", ns.Path)
	}
	tmp := filepath.Dir(ns.Path)
	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(tmp); !os.IsNotExist(err) {
		t.Errorf("%s is left after Close: %v", tmp, err)
	}
}
