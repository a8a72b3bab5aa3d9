package executor

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// defaultShmSize is /dev/shm's size when --shm-size is not given: 64 MiB, as in BuildKit.
const defaultShmSize = 64 << 20

func shmSize(n int64) string {
	if n <= 0 {
		n = defaultShmSize
	}
	return "size=" + strconv.FormatInt(n/1024, 10) + "k"
}

// rlimits are the caller's RLIMIT_NOFILE and the --ulimit values, which win by name.
func rlimits(nofile unix.Rlimit, ulimits []Ulimit) []specs.POSIXRlimit {
	out := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: nofile.Max, Soft: nofile.Cur}}
	for _, u := range ulimits {
		r := specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(u.Name), Hard: uint64(u.Hard), Soft: uint64(u.Soft)}
		if r.Type == "RLIMIT_NOFILE" {
			out[0] = r
			continue
		}
		out = append(out, r)
	}
	return out
}

func roBind(src, dst string) specs.Mount {
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"}}
}

// initHosts is the /etc/hosts BuildKit gives a step that has no network of the host's.
const initHosts = "127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n"

// writeHostsFile writes the step's /etc/hosts into the bundle dir: the host's (host
// network) or BuildKit's minimal one (no network), then one "IP<TAB>NAME" line per extra
// host, as BuildKit writes them.
func writeHostsFile(bundle string, c *Container) (string, error) {
	var b bytes.Buffer
	base := []byte(initHosts)
	if c.Network != "none" {
		if h, err := os.ReadFile("/etc/hosts"); err == nil {
			base = h
		}
	}
	b.Write(base)
	if len(base) > 0 && base[len(base)-1] != '\n' {
		b.WriteByte('\n')
	}
	for _, h := range c.ExtraHosts {
		fmt.Fprintf(&b, "%s\t%s\n", h.IP, h.Name)
	}
	p := filepath.Join(bundle, "hosts")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("writing /etc/hosts: %w", err)
	}
	return p, nil
}

// capNames are Linux's capabilities by number (capability.h).
var capNames = []string{"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL",
	"SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
	"NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT",
	"SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME",
	"SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE",
	"MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
	"CHECKPOINT_RESTORE"}

// allCaps is every capability hush itself may grant (its bounding set), as BuildKit grants
// an insecure step every capability it has.
func allCaps() []string {
	bnd := uint64(1)<<len(capNames) - 1
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
				if n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64); err == nil {
					bnd = n
				}
			}
		}
	}
	var out []string
	for i, n := range capNames {
		if bnd&(1<<i) != 0 {
			out = append(out, "CAP_"+n)
		}
	}
	return out
}

// unsandbox is BuildKit's insecure mode on a spec: nothing masked or read-only in /proc,
// /sys writable. Device nodes stay unopenable (every mount stays nodev).
func unsandbox(s *specs.Spec) {
	s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	for i, m := range s.Mounts {
		if m.Destination == "/sys" {
			s.Mounts[i].Options = []string{"nosuid", "noexec", "nodev"}
		}
	}
}
