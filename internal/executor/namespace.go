package executor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

const nsEnv = "HUSH_PRIVATE_MOUNTNS"

// InPrivateNS reports whether this process runs in the mount namespace Reexec made.
func InPrivateNS() bool { return os.Getenv(nsEnv) == "1" }

// Reexec runs this binary again, with the same arguments, in a new mount namespace whose
// mounts are private and a new PID namespace of which it is PID 1: every overlay and tmpfs
// a build mounts lives and dies with it, and so does every process it starts (the runtime
// and the step's processes, whatever the runtime), so a killed build leaves neither a mount
// nor a process behind. SIGINT and SIGTERM are passed on. It returns the child's exit code.
func Reexec() (int, error) {
	if os.Geteuid() != 0 {
		return 0, errors.New("hush build needs root (it mounts overlayfs and runs an OCI runtime); rootless mode is not supported yet")
	}
	self, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("finding hush executable: %w", err)
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), nsEnv+"=1")
	// Unshareflags (not Cloneflags) for the mount namespace: Go then makes every mount in it
	// private, so nothing propagates back to the host.
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS, Cloneflags: syscall.CLONE_NEWPID,
		Pdeathsig: syscall.SIGKILL}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting hush in a private mount namespace: %w", err)
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	if cmd.ProcessState != nil {
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return cmd.ProcessState.ExitCode(), nil
	}
	return 0, err
}

// PrepareNS readies the private namespace: it mounts its /proc (and binfmt_misc, read
// only, when the kernel has it), detaches the cgroup v2 hierarchy of a
// "hybrid" host (crun 1.8 refuses to start when it sees one) and mounts a tmpfs at runDir
// for runtime state, bundles and, later, secrets.
func PrepareNS(runDir string) error {
	if !InPrivateNS() {
		return errors.New("internal error: PrepareNS outside the private mount namespace")
	}
	// This process is PID 1 of its own PID namespace: a /proc of that namespace lets the
	// runtimes (runc reads /proc by its own PIDs) find their processes.
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting /proc for the build's PID namespace: %w", err)
	}
	// The new /proc hides the host's binfmt_misc mount; a read-only one shows the build
	// which emulators the kernel has (for foreign --platform steps). Absent is fine.
	_ = unix.Mount("binfmt_misc", "/proc/sys/fs/binfmt_misc", "binfmt_misc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_RDONLY, "")
	_ = unix.Unmount("/sys/fs/cgroup/unified", unix.MNT_DETACH)
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", runDir, err)
	}
	if err := unix.Mount("tmpfs", runDir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0700"); err != nil {
		return fmt.Errorf("mounting tmpfs at %s: %w", runDir, err)
	}
	return nil
}
