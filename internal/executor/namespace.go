package executor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/hush-build/hush/internal/rootless"
)

const nsEnv = "HUSH_PRIVATE_MOUNTNS"

// tmpfsDirEnv is registry.TmpfsDirEnv: the tmpfs dir for keys and generator output.
const tmpfsDirEnv = "HUSH_TMPFS_DIR"

// InPrivateNS reports whether this process runs in the mount namespace Reexec made.
func InPrivateNS() bool { return os.Getenv(nsEnv) == "1" }

// Reexec runs this binary again, with the same arguments, in a new mount namespace whose
// mounts are private and a new PID namespace of which it is PID 1: every overlay and tmpfs
// a build mounts lives and dies with it, and so does every process it starts (the runtime
// and the step's processes, whatever the runtime), so a killed build leaves neither a mount
// nor a process behind. SIGINT and SIGTERM are passed on. It returns the child's exit code.
// Started by an ordinary user, the child also gets a user namespace (package rootless) in
// which it is root, its state dir root passed on as HUSH_ROOT (the child's default would
// be root's) and a private tmpfs dir as HUSH_TMPFS_DIR unless one is set; under a masked
// /proc (a container's, rootless.SharedProc) it keeps its PID namespace but not a /proc
// of it (PrepareNS).
func Reexec(root string) (int, error) {
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
	release, err := start(cmd, root)
	if err != nil {
		return 0, err
	}
	defer release()
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

// start starts cmd: as it is for root, in a user namespace for anyone else.
func start(cmd *exec.Cmd, root string) (release func(), err error) {
	if os.Geteuid() == 0 {
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("starting hush in a private mount namespace: %w", err)
		}
		return func() {}, nil
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("state dir %s: %w", root, err)
	}
	cmd.Env = append(cmd.Env, "HUSH_ROOT="+abs)
	if os.Getenv(tmpfsDirEnv) == "" {
		dir, err := rootless.TmpfsDir()
		if err != nil {
			return nil, err
		}
		if dir != "" {
			cmd.Env = append(cmd.Env, tmpfsDirEnv+"="+dir)
		}
	}
	plan, err := rootless.NewPlan()
	if err != nil {
		return nil, err
	}
	if rootless.SharedProc() {
		// A masked /proc (a container's) cannot be replaced by one of hush's new PID
		// namespace: hush keeps the one it has (see PrepareNS), where steps will see
		// this process too; its environment (env= secrets) stays closed to them. The
		// PID namespace stays: when hush dies, everything it started (fuse-overlayfs
		// daemons holding the namespace's tmpfs of secrets among them) dies with it.
		if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
			return nil, fmt.Errorf("closing hush's /proc entries: %w", err)
		}
	}
	return plan.Start(cmd)
}

// PrepareNS readies the private namespace: it mounts its /proc (and binfmt_misc, read
// only, when the kernel has it), detaches the cgroup v2 hierarchy of a
// "hybrid" host (crun 1.8 refuses to start when it sees one) and mounts a tmpfs at runDir
// for runtime state, bundles and, later, secrets.
func PrepareNS(runDir string) error {
	if !InPrivateNS() {
		return errors.New("internal error: PrepareNS outside the private mount namespace")
	}
	if rootless.SharedProc() {
		// The /proc it has shows the outer PID namespace (use /proc/self and
		// /proc/thread-self, never a PID of hush's own). Steps may see this process
		// there; made non-dumpable, its memory, environment and mount namespace
		// (/proc/PID/root) stay closed to them.
		if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
			return fmt.Errorf("closing hush's /proc entries: %w", err)
		}
	} else if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		// This process is PID 1 of its own PID namespace: a /proc of that namespace lets
		// the runtimes (runc reads /proc by its own PIDs) find their processes.
		return fmt.Errorf("mounting /proc for the build's PID namespace: %w", rootless.DiagnoseMount("/proc", err))
	}
	// A new /proc hides the host's binfmt_misc mount; a read-only one shows the build
	// which emulators the kernel has (for foreign --platform steps). Absent is fine. In a
	// user namespace (Linux 6.7+) the mount would be a fresh, empty instance that hides
	// the host's emulators from steps, so rootless hush leaves it unmounted.
	if !rootless.SharedProc() && !rootless.InUserNS() {
		_ = unix.Mount("binfmt_misc", "/proc/sys/fs/binfmt_misc", "binfmt_misc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_RDONLY, "")
	}
	hideUnifiedCgroup()
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", runDir, err)
	}
	if err := unix.Mount("tmpfs", runDir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0700"); err != nil {
		return fmt.Errorf("mounting tmpfs at %s: %w", runDir, rootless.DiagnoseMount("tmpfs", err))
	}
	return nil
}

// hideUnifiedCgroup makes a "hybrid" cgroup host look like a legacy one to crun 1.8, which
// refuses hybrid hosts: it detaches the cgroup v2 mount at /sys/fs/cgroup/unified, or, in a
// user namespace (where that mount is locked to its parent), covers it with an empty tmpfs.
func hideUnifiedCgroup() {
	const unified = "/sys/fs/cgroup/unified"
	var st unix.Statfs_t
	if err := unix.Statfs(unified, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		return
	}
	if unix.Unmount(unified, unix.MNT_DETACH) == nil {
		return
	}
	_ = unix.Mount("tmpfs", unified, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=4k")
}
