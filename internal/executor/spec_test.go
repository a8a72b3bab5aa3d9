package executor

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

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
