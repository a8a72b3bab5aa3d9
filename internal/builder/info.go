package builder

import (
	"fmt"
	"os"

	"github.com/hush-build/hush/internal/executor"
	"github.com/hush-build/hush/internal/netns"
	"github.com/hush-build/hush/internal/registry"
	"github.com/hush-build/hush/internal/rootless"
)

// Setup is how this hush runs steps, as `hush info` shows it.
type Setup struct {
	// Mode is "rootful" or "rootless"; Maps the namespace's uid and gid maps (rootless).
	Mode, Maps string
	// InContainer reports signs of a container around hush.
	InContainer bool
	// Root is the state dir; TmpfsDir where keys and generator output stay.
	Root, TmpfsDir string
	// Runtime, Overlay and Network name the OCI runtime, the overlay driver and the
	// user-mode network helper (or why there is none).
	Runtime, Overlay, Network string
	// Processes says how steps are kept apart from other processes.
	Processes string
}

// Describe opens the state dir root as a build does (inside hush's namespaces, which the
// caller entered: the overlay driver is detected by a trial mount there) and reports how
// its steps would run.
func Describe(root string, cfg Config) (Setup, error) {
	b, err := Open(root, cfg)
	if err != nil {
		return Setup{}, err
	}
	defer b.Close()
	s := Setup{Mode: "rootful", Root: root, InContainer: rootless.System().InContainer(),
		TmpfsDir: os.Getenv(registry.TmpfsDirEnv)}
	if rootless.InUserNS() {
		s.Mode, s.Maps = "rootless", rootless.Maps()
	}
	s.Processes = "own PID namespace and /proc for hush and for each step"
	if rootless.SharedProc() {
		s.Processes = "shared /proc (this container masks paths in it, so no fresh one can be mounted): " +
			"steps see the container's processes but not into them, and run one at a time; crun only. " +
			"For a private /proc run the container with --security-opt systempaths=unconfined (Kubernetes: procMount: Unmasked)"
	}
	if s.TmpfsDir == "" {
		s.TmpfsDir = registry.DefaultGeneratorDir
	}
	s.Runtime = fmt.Sprintf("%T", b.Runtime)
	if oci, ok := b.Runtime.(*executor.OCI); ok {
		s.Runtime = oci.Describe()
	}
	if m, ok := b.mounts.(overlayMounts); ok {
		s.Overlay = m.driver.String()
	}
	if name, path, err := netns.Helper(); err != nil {
		s.Network = "unavailable: " + err.Error()
	} else {
		s.Network = name + " (" + path + ")"
	}
	return s, nil
}
