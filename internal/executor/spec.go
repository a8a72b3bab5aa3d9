package executor

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// defaultCaps is Docker's default capability set, which BuildKit's RUN steps get too.
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// Spec builds the OCI runtime spec for c. ociVersion stays 1.0.2: crun 1.8 rejects newer.
func Spec(c *Container) (*specs.Spec, error) {
	var nofile unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile); err != nil {
		return nil, fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	cwd := c.Cwd
	if cwd == "" {
		cwd = "/"
	}
	hostname := c.Hostname
	if hostname == "" {
		hostname = "hush"
	}
	caps := append([]string(nil), defaultCaps...)
	if c.Insecure {
		caps = allCaps()
	}
	s := &specs.Spec{
		Version: "1.0.2",
		Process: &specs.Process{
			User: specs.User{UID: c.UID, GID: c.GID, AdditionalGids: c.Groups},
			Args: c.Args,
			Env:  c.Env,
			Cwd:  cwd,
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
			Rlimits: rlimits(nofile, c.Ulimits),
		},
		Root:     &specs.Root{Path: c.Rootfs},
		Hostname: hostname,
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			// nodev: without a device cgroup (crun runs with --cgroup-manager=disabled) a
			// device node made in /dev could otherwise be opened; the default devices are
			// bind mounts of the host's own (below), which nodev on /dev does not affect.
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "noexec", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", shmSize(c.ShmSize)}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
			MaskedPaths: []string{"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
				"/sys/firmware", "/sys/devices/virtual/powercap"},
			ReadonlyPaths: []string{"/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq",
				"/proc/sys", "/proc/sysrq-trigger"},
		},
	}
	if err := applyNetwork(s, c); err != nil {
		return nil, err
	}
	if c.Insecure {
		unsandbox(s)
		s.Process.Capabilities.Inheritable, s.Process.Capabilities.Ambient = caps, caps
	}
	s.Mounts = append(s.Mounts, defaultDevices()...)
	s.Mounts = append(s.Mounts, c.Mounts...)
	return s, nil
}

// applyNetwork gives the step its network namespace (a pipeline service network, or a
// rootless build's own with Network "default"), the host's network (and its resolv.conf
// and hosts) or an empty network namespace, and the /etc/hosts Run wrote for --add-host.
func applyNetwork(s *specs.Spec, c *Container) error {
	switch {
	case c.NetNS != "":
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: c.NetNS})
		if c.Network == "default" { // a build's steps: outbound to the host's name servers
			s.Mounts = append(s.Mounts, hostNameFiles(c)...)
		}
	case c.Network == "" || c.Network == "host" || c.Network == "default":
		s.Mounts = append(s.Mounts, hostNameFiles(c)...)
	case c.Network == "none":
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	default:
		return fmt.Errorf("network mode %q: want host or none", c.Network)
	}
	if len(c.ExtraHosts) > 0 {
		s.Mounts = append(s.Mounts, roBind(c.hostsFile, "/etc/hosts"))
	}
	return nil
}

// hostNameFiles binds the host's resolv.conf and hosts (unless --add-host wrote one).
func hostNameFiles(c *Container) []specs.Mount {
	var out []specs.Mount
	for _, f := range []string{"/etc/resolv.conf", "/etc/hosts"} {
		if _, err := os.Stat(f); err == nil && !(f == "/etc/hosts" && len(c.ExtraHosts) > 0) {
			out = append(out, roBind(f, f))
		}
	}
	return out
}

// defaultDeviceNames is Docker's default device set; the runtime adds the /dev/fd,
// stdin/stdout/stderr and ptmx links itself.
var defaultDeviceNames = []string{"null", "zero", "full", "random", "urandom", "tty"}

// defaultDevices bind-mounts the host's default devices into the step's /dev.
func defaultDevices() []specs.Mount {
	var out []specs.Mount
	for _, d := range defaultDeviceNames {
		out = append(out, specs.Mount{Destination: "/dev/" + d, Type: "bind", Source: "/dev/" + d,
			Options: []string{"bind", "nosuid", "noexec"}})
	}
	return out
}

// ownNetNS reports whether s gives the container a network namespace of its own (made for
// it, or joined by path).
func ownNetNS(s *specs.Spec) bool {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			return true
		}
	}
	return false
}

// bindSys replaces the sysfs mount at /sys with a recursive bind of the host's, read-only
// all the way down ("rro": a plain "ro" leaves the mounts below it, the cgroup tree and
// the user's own delegated cgroups among them, writable).
func bindSys(s *specs.Spec) {
	for i, m := range s.Mounts {
		if m.Destination == "/sys" && m.Type == "sysfs" {
			s.Mounts[i] = specs.Mount{Destination: "/sys", Type: "bind", Source: "/sys",
				Options: []string{"rbind", "ro", "rro", "nosuid", "noexec", "nodev"}}
		}
	}
}

// shareProc replaces the procfs mount at /proc with a recursive bind of this process's
// /proc, its masked paths kept: under a masked /proc no fresh one can be mounted.
func shareProc(s *specs.Spec) {
	for i, m := range s.Mounts {
		if m.Destination == "/proc" && m.Type == "proc" {
			s.Mounts[i] = specs.Mount{Destination: "/proc", Type: "bind", Source: "/proc",
				Options: []string{"rbind", "nosuid", "noexec", "nodev"}}
		}
	}
}

// withoutDefaultDevices is mounts without the binds defaultDevices adds.
func withoutDefaultDevices(mounts []specs.Mount) []specs.Mount {
	out := mounts[:0:0]
	for _, m := range mounts {
		if m.Type == "bind" && slices.Contains(defaultDeviceNames, strings.TrimPrefix(m.Destination, "/dev/")) && m.Source == m.Destination {
			continue
		}
		out = append(out, m)
	}
	return out
}

func writeSpec(path string, s *specs.Spec) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encoding runtime spec: %w", err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("writing runtime spec: %w", err)
	}
	return nil
}
