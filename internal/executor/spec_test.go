package executor

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestSpecLimits: buildx's --ulimit, --shm-size, --add-host and RUN --security=insecure
// reach the runtime spec as BuildKit puts them there.
func TestSpecLimits(t *testing.T) {
	tests := []struct {
		name  string
		c     Container
		check func(*testing.T, *specs.Spec)
	}{
		{"defaults", Container{}, func(t *testing.T, s *specs.Spec) {
			if got := mountOpt(s, "/dev/shm", "size="); got != "size=65536k" {
				t.Errorf("/dev/shm %s, want size=65536k", got)
			}
			if len(s.Process.Rlimits) != 1 || s.Process.Rlimits[0].Type != "RLIMIT_NOFILE" {
				t.Errorf("rlimits %+v, want the caller's RLIMIT_NOFILE only", s.Process.Rlimits)
			}
			if s.Linux.MaskedPaths == nil || slices.Contains(s.Process.Capabilities.Bounding, "CAP_SYS_ADMIN") {
				t.Errorf("a default step is sandboxed: masked %v, caps %v", s.Linux.MaskedPaths, s.Process.Capabilities.Bounding)
			}
		}},
		{"shm-size", Container{Limits: Limits{ShmSize: 128 << 20}}, func(t *testing.T, s *specs.Spec) {
			if got := mountOpt(s, "/dev/shm", "size="); got != "size=131072k" {
				t.Errorf("/dev/shm %s, want size=131072k", got)
			}
		}},
		{"ulimits", Container{Limits: Limits{Ulimits: []Ulimit{{"nofile", 1024, 2048}, {"nproc", 50, 60}}}}, func(t *testing.T, s *specs.Spec) {
			want := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 2048}, {Type: "RLIMIT_NPROC", Soft: 50, Hard: 60}}
			if !slices.Equal(s.Process.Rlimits, want) {
				t.Errorf("rlimits %+v, want %+v", s.Process.Rlimits, want)
			}
		}},
		{"insecure", Container{Limits: Limits{Insecure: true}}, func(t *testing.T, s *specs.Spec) {
			if !slices.Contains(s.Process.Capabilities.Effective, "CAP_SYS_ADMIN") || !slices.Contains(s.Process.Capabilities.Ambient, "CAP_NET_ADMIN") {
				t.Errorf("caps %v, want every capability", s.Process.Capabilities.Effective)
			}
			if len(s.Linux.MaskedPaths) != 0 || len(s.Linux.ReadonlyPaths) != 0 {
				t.Errorf("masked %v readonly %v, want none", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
			}
			if mountOpt(s, "/sys", "ro") != "" || mountOpt(s, "/sys", "nodev") == "" {
				t.Errorf("/sys options %v, want writable and still nodev", mountOf(s, "/sys").Options)
			}
		}},
		{"extra hosts replace the host's /etc/hosts", Container{Limits: Limits{ExtraHosts: []Host{{"db", "10.0.0.2"}}}, hostsFile: "/run/b/hosts"}, func(t *testing.T, s *specs.Spec) {
			if m := mountOf(s, "/etc/hosts"); m == nil || m.Source != "/run/b/hosts" || strings.Count(mountDests(s), "/etc/hosts") != 1 {
				t.Errorf("/etc/hosts mounts %s, want one from /run/b/hosts", mountDests(s))
			}
		}},
		{"extra hosts without a network", Container{Network: "none", Limits: Limits{ExtraHosts: []Host{{"db", "10.0.0.2"}}}, hostsFile: "/run/b/hosts"}, func(t *testing.T, s *specs.Spec) {
			if m := mountOf(s, "/etc/hosts"); m == nil || m.Source != "/run/b/hosts" {
				t.Errorf("mounts %s, want /etc/hosts from /run/b/hosts", mountDests(s))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Spec(&tt.c)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

// TestWriteHostsFile: --add-host lines follow the host's /etc/hosts (host network) or
// BuildKit's minimal file (no network), one "IP<TAB>NAME" line each.
func TestWriteHostsFile(t *testing.T) {
	dir := t.TempDir()
	c := &Container{Network: "none", Limits: Limits{ExtraHosts: []Host{{"db", "10.0.0.2"}, {"v6", "::1"}}}}
	p, err := writeHostsFile(dir, c)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	want := initHosts + "10.0.0.2\tdb\n::1\tv6\n"
	if string(got) != want || p != filepath.Join(dir, "hosts") {
		t.Errorf("%s:\n%q\nwant\n%q", p, got, want)
	}
	c.Network = "host"
	if p, err = writeHostsFile(dir, c); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(p)
	host, err := os.ReadFile("/etc/hosts")
	if err == nil && !strings.HasPrefix(string(got), string(host)) {
		t.Errorf("host network: %q does not start with the host's /etc/hosts", got)
	}
	if !strings.HasSuffix(string(got), "10.0.0.2\tdb\n::1\tv6\n") {
		t.Errorf("host network: %q lacks the extra hosts", got)
	}
}

func mountOf(s *specs.Spec, dest string) *specs.Mount {
	for i := range s.Mounts {
		if s.Mounts[i].Destination == dest {
			return &s.Mounts[i]
		}
	}
	return nil
}

// TestRootlessSpecAdjustments: on the host's network a rootless step gets the host's
// /sys bound read-only (sysfs belongs to the network namespace's owner); with its own
// network namespace it keeps a fresh sysfs; runc's rootless runs drop hush's device binds
// (runc binds them itself) and nothing else.
func TestRootlessSpecAdjustments(t *testing.T) {
	extra := specs.Mount{Destination: "/dev/null", Type: "bind", Source: "/tmp/not-the-device", Options: []string{"bind"}}
	for _, network := range []string{"host", "none"} {
		s, err := Spec(&Container{Rootfs: "/r", Args: []string{"true"}, Network: network, Mounts: []specs.Mount{extra}})
		if err != nil {
			t.Fatal(err)
		}
		if own := ownNetNS(s); own != (network == "none") {
			t.Errorf("%s: ownNetNS = %v", network, own)
		}
		if !ownNetNS(s) {
			bindSys(s)
		}
		sys := mountOf(s, "/sys")
		switch {
		case network == "host" && (sys.Type != "bind" || sys.Source != "/sys" || !slices.Contains(sys.Options, "ro") || !slices.Contains(sys.Options, "rbind")):
			t.Errorf("host network: /sys = %+v, want a read-only rbind of the host's", sys)
		case network == "none" && sys.Type != "sysfs":
			t.Errorf("own network: /sys = %+v, want sysfs", sys)
		}
		n := len(s.Mounts)
		s.Mounts = withoutDefaultDevices(s.Mounts)
		if got := n - len(s.Mounts); got != len(defaultDeviceNames) {
			t.Errorf("%s: withoutDefaultDevices dropped %d mounts, want %d", network, got, len(defaultDeviceNames))
		}
		if m := mountOf(s, "/dev/null"); m == nil || m.Source != extra.Source {
			t.Errorf("%s: the caller's own /dev/null mount was dropped: %+v", network, m)
		}
	}
}

func mountOpt(s *specs.Spec, dest, prefix string) string {
	if m := mountOf(s, dest); m != nil {
		for _, o := range m.Options {
			if strings.HasPrefix(o, prefix) {
				return o
			}
		}
	}
	return ""
}

func mountDests(s *specs.Spec) string {
	var d []string
	for _, m := range s.Mounts {
		d = append(d, m.Destination)
	}
	return strings.Join(d, " ")
}
