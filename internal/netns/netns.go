// Package netns makes network namespaces for pipeline steps: an empty namespace with its
// loopback up, held by a bind mount of its nsfs file (so containers join it by path), and,
// for the default network, a user-mode network (pasta from Debian's passt, else
// slirp4netns) that gives it outbound traffic without touching the host's interfaces.
//
// It owns those namespaces and the helper processes; it must never change the host's own
// network namespace, forward a port from the host into a namespace (parallel steps bind
// the same ports), or run a container.
package netns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// NS is one network namespace, bound at Path.
type NS struct {
	Path   string
	tmpDir string // made to hold Path (see New); removed by Close
	helper *exec.Cmd
	done   chan error
}

// New makes an empty network namespace with its loopback up and binds it at dir/name
// (dir must be in a private mount namespace, a tmpfs: the bind mount lives there). runc
// takes namespace paths as a comma-separated list, so a dir whose path has a comma is
// replaced by a fresh private one on /dev/shm.
func New(dir, name string) (*NS, error) {
	ns := &NS{}
	if strings.Contains(dir, ",") {
		d, err := os.MkdirTemp("/dev/shm", "hush-netns-")
		if err != nil {
			return nil, fmt.Errorf("creating network namespace dir: %w", err)
		}
		dir, ns.tmpDir = d, d
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating network namespace dir: %w", err)
	}
	ns.Path = filepath.Join(dir, name)
	f, err := os.OpenFile(ns.Path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o600)
	if err != nil {
		ns.removeTmpDir()
		return nil, fmt.Errorf("creating network namespace file: %w", err)
	}
	f.Close()
	if err := inNamespace(0, func() error { return enterNew(ns.Path) }); err != nil {
		os.Remove(ns.Path)
		ns.removeTmpDir()
		return nil, err
	}
	return ns, nil
}

func (ns *NS) removeTmpDir() {
	if ns.tmpDir != "" {
		os.Remove(ns.tmpDir)
	}
}

// inNamespace runs fn on a locked thread that is in the network namespace nsFD (0: a new
// one, made by fn with unshare) and then moved back to the one it came from. The thread is
// handed back to Go only once it is back; if it cannot get back it is left locked and ends
// with the goroutine. Exiting threads is avoided: a child started with Pdeathsig from a
// thread (crun, pasta) is killed when that thread ends.
func inNamespace(nsFD int, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("opening the current network namespace: %w", err)
			return
		}
		defer unix.Close(orig)
		if nsFD > 0 {
			if err := unix.Setns(nsFD, unix.CLONE_NEWNET); err != nil {
				runtime.UnlockOSThread()
				errc <- fmt.Errorf("entering network namespace: %w", err)
				return
			}
		}
		err = fn()
		// Rootless, the thread may not go back to the host's network namespace (owned
		// by the initial user namespace): EPERM. It then stays locked and ends with the
		// goroutine, which is all that is needed: fn starts no process from it, and no
		// thread that started a process still running can be here (they stay locked to
		// the goroutine that waits for that process).
		if serr := unix.Setns(orig, unix.CLONE_NEWNET); serr == nil {
			runtime.UnlockOSThread()
		} else if err == nil && !errors.Is(serr, unix.EPERM) {
			err = fmt.Errorf("returning to the network namespace: %w", serr)
		}
		errc <- err
	}()
	return <-errc
}

// enterNew moves the calling thread into a new network namespace, brings its loopback
// up and binds the namespace at path.
func enterNew(path string) error {
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("creating network namespace: %w", err)
	}
	if err := loopbackUp(); err != nil {
		return err
	}
	self := "/proc/thread-self/ns/net"
	if err := unix.Mount(self, path, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("binding network namespace: %w", err)
	}
	return nil
}

func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	return nil
}

// Helpers are the user-mode network programs, in the order they are tried.
var Helpers = []string{"pasta", "slirp4netns"}

// Connect gives the namespace outbound traffic through a user-mode network: pasta (no
// port forwarding either way), else slirp4netns. It returns when the namespace has its
// interface, or fails naming the Debian packages to install.
func (ns *NS) Connect(ctx context.Context) error {
	name, bin, err := Helper()
	if err != nil {
		return err
	}
	return ns.connect(ctx, name, bin)
}

// Helper names the user-mode network helper Connect would start and its path, or fails
// as Connect would (no helper, no usable tun device).
func Helper() (name, path string, err error) {
	if err := checkTun(TunDevice); err != nil {
		return "", "", err
	}
	for _, h := range Helpers {
		if bin, err := exec.LookPath(h); err == nil {
			return h, bin, nil
		}
	}
	return "", "", errors.New("--network=default needs pasta or slirp4netns for outbound traffic (install the Debian package passt or slirp4netns), or use --network=none or host")
}

// TunDevice is the device pasta and slirp4netns open in the namespace.
const TunDevice = "/dev/net/tun"

// checkTun fails, naming what to change, when the tun device at path cannot be opened:
// missing, or (rootless) not usable by this user.
func checkTun(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err == nil {
		return f.Close()
	}
	const alt = "or use --network=none or host"
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("--network=default: %w: pasta and slirp4netns need %s usable by this user (mode 0666, as udev makes it: `sudo chmod 0666 %s`; in a container: --device %s), %s", err, path, path, path, alt)
	}
	return fmt.Errorf("--network=default: %w: pasta and slirp4netns need %s (`sudo modprobe tun`; in a container: --device %s), %s", err, path, path, alt)
}

// connect starts the helper named name (at bin) for the namespace.
func (ns *NS) connect(ctx context.Context, name, bin string) error {
	var args []string
	switch name {
	case "pasta":
		args = []string{"--foreground", "--quiet", "--config-net", "--runas", "0:0",
			"-t", "none", "-u", "none", "-T", "none", "-U", "none", "--netns", ns.Path}
	case "slirp4netns":
		args = []string{"--configure", "--mtu=65520", "--disable-host-loopback", "--netns-type=path", ns.Path, "tap0"}
	default:
		return fmt.Errorf("unknown network helper %q", name)
	}
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	ns.helper, ns.done = cmd, make(chan error, 1)
	started := make(chan error, 1)
	go func() {
		// The parent-death signal fires when the thread that started the helper ends,
		// and threads do end here (inNamespace): the one that starts it is kept until the
		// helper exits.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- fmt.Errorf("starting %s: %w", name, err)
			return
		}
		started <- nil
		ns.done <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		ns.helper = nil
		return err
	}
	return ns.waitLink(ctx, name)
}

// waitLink waits until the namespace has an interface besides lo that is up.
func (ns *NS) waitLink(ctx context.Context, helper string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		up, err := ns.hasLink()
		if err != nil || up {
			return err
		}
		select {
		case err := <-ns.done:
			ns.helper = nil
			return fmt.Errorf("%s exited before the network was up: %v", helper, err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not bring the network up within 10s", helper)
		}
	}
}

// hasLink looks from inside the namespace for an interface besides lo that is up.
func (ns *NS) hasLink() (bool, error) {
	fd, err := unix.Open(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, fmt.Errorf("opening network namespace: %w", err)
	}
	defer unix.Close(fd)
	up := false
	err = inNamespace(fd, func() error {
		ifs, err := net.Interfaces()
		if err != nil {
			return err
		}
		for _, i := range ifs {
			if i.Flags&net.FlagLoopback == 0 && i.Flags&net.FlagUp != 0 {
				if addrs, _ := i.Addrs(); len(addrs) > 0 {
					up = true
				}
			}
		}
		return nil
	})
	return up, err
}

// Close stops the user-mode network and releases the namespace (its last container gone,
// the kernel frees it).
func (ns *NS) Close() error {
	if ns.helper != nil {
		_ = ns.helper.Process.Kill()
		<-ns.done
		ns.helper = nil
	}
	var errs []error
	if err := unix.Unmount(ns.Path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		errs = append(errs, fmt.Errorf("unbinding network namespace: %w", err))
	}
	if err := os.Remove(ns.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	ns.removeTmpDir()
	return errors.Join(errs...)
}
