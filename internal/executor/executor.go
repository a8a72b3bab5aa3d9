package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hush-build/hush/internal/rootless"
)

// Runtime runs a container process to completion.
type Runtime interface {
	Run(ctx context.Context, c *Container) error
}

// Container is one step's process and its view of the filesystem.
type Container struct {
	// ID must be unique among running steps.
	ID string
	// Rootfs is the mounted root filesystem (an overlay merged dir).
	Rootfs string
	Args   []string
	Env    []string
	Cwd    string
	UID    uint32
	GID    uint32
	Groups []uint32
	// Mounts are added after the standard /proc, /dev, /sys ones.
	Mounts []specs.Mount
	// Network is "host" (share the host's network) or "none" (an empty network namespace).
	Network string
	// NetNS, when set, is a network namespace to join (a bound nsfs file) in place of
	// Network; the caller mounts the container's /etc/hosts and /etc/resolv.conf.
	NetNS    string
	Hostname string
	Stdout   io.Writer
	Stderr   io.Writer
	// Limits are buildx's --add-host, --ulimit and --shm-size, and RUN --security=insecure.
	Limits
	// hostsFile is the /etc/hosts Run wrote for ExtraHosts (in the bundle).
	hostsFile string
}

// Limits are what a build sets for every step beyond the instruction itself.
type Limits struct {
	// ExtraHosts are added to the step's /etc/hosts (--add-host).
	ExtraHosts []Host
	// Ulimits replace the caller's rlimits of the same name (--ulimit).
	Ulimits []Ulimit
	// ShmSize is the size of /dev/shm in bytes; 0 means 64 MiB (--shm-size).
	ShmSize int64
	// Insecure runs the step without the sandbox: every capability, no seccomp filter, no
	// masked or read-only /proc paths, a writable /sys (RUN --security=insecure).
	Insecure bool
}

// Host is one --add-host entry: IP is an IPv4 or IPv6 address.
type Host struct{ Name, IP string }

// Ulimit is one --ulimit entry: Name is docker's (nofile, nproc, core, …).
type Ulimit struct {
	Name       string
	Soft, Hard int64
}

// ExitError reports a process that ran and exited non-zero.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit code: %d", e.Code) }

// OCI drives a runc-compatible runtime binary.
type OCI struct {
	name   string // "crun" or "runc"
	binary string
	// stateDir is the runtime's --root.
	stateDir string
	// bundleDir holds per-step bundles; it must be a tmpfs.
	bundleDir string
	// mount is mount(8), which crun runs (through shell) as a hook to put nodev back on
	// the rootfs.
	mount, shell string
	// filter is Docker's default seccomp profile, built once: as JSON for runc, compiled
	// to BPF for crun.
	filter func() (*seccompFilter, error)
	// userNS is set in a user namespace (rootless), where runc binds the default devices
	// itself and logs cgroup warnings it cannot act on.
	userNS bool
	// stepLock, set when hush shares a masked /proc (rootless.SharedProc), is the file
	// whose flock lets one step of this user run at a time: steps then see each other's
	// processes in /proc.
	stepLock string
}

type seccompFilter struct {
	profile *specs.LinuxSeccomp
	bpf     string
}

var _ Runtime = (*OCI)(nil)

// New finds the runtime binary name ("crun", "runc", or "" for crun when present, else
// runc) and keeps its state and bundles under runDir, which must be on a tmpfs.
func New(name, runDir string) (*OCI, error) {
	if name == "" {
		name = "crun"
		if _, err := exec.LookPath("crun"); err != nil {
			name = "runc"
		}
	}
	if name != "crun" && name != "runc" {
		return nil, fmt.Errorf("--runtime %q: want runc or crun", name)
	}
	bin, err := exec.LookPath(name)
	if err != nil {
		return nil, fmt.Errorf("finding runtime %s: %w (install the Debian package %s)", name, err, name)
	}
	o := &OCI{name: name, binary: bin, stateDir: filepath.Join(runDir, name), bundleDir: filepath.Join(runDir, "bundles"),
		userNS: rootless.InUserNS()}
	if rootless.SharedProc() {
		if name == "runc" {
			return nil, errors.New("--runtime runc: this container's /proc is masked, so hush has no PID namespace of its own and runc's steps could outlive a killed hush: use crun, or run the container with `--security-opt systempaths=unconfined` (Kubernetes: securityContext.procMount: Unmasked)")
		}
		dir := os.Getenv(tmpfsDirEnv)
		if dir == "" {
			dir = runDir
		}
		o.stepLock = filepath.Join(dir, "steps.lock")
	}
	o.filter = sync.OnceValues(func() (*seccompFilter, error) { return buildFilter(name) })
	if name == "crun" {
		if o.mount, err = exec.LookPath("mount"); err == nil {
			o.shell, err = exec.LookPath("sh")
		}
		if err != nil {
			return nil, fmt.Errorf("crun needs sh and mount(8) to keep each step's rootfs nodev (install the Debian package mount, or use --runtime runc): %w", err)
		}
	}
	for _, d := range []string{o.stateDir, o.bundleDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("creating runtime dir: %w", err)
		}
	}
	return o, nil
}

// Name is the runtime's name.
func (o *OCI) Name() string { return o.name }

// Describe names the runtime, its version and its path, as `hush info` shows them.
func (o *OCI) Describe() string {
	out, err := exec.Command(o.binary, "--version").Output()
	version, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if err != nil || version == "" {
		version = o.name + " (version unknown)"
	}
	return version + " (" + o.binary + ")"
}

func (o *OCI) globalArgs() []string {
	args := []string{"--root", o.stateDir}
	if o.name == "crun" {
		args = append(args, "--cgroup-manager=disabled")
	}
	return args
}

// Run writes the bundle, runs the process and waits for it. On cancellation the
// container is killed and deleted before Run returns.
func (o *OCI) Run(ctx context.Context, c *Container) error {
	// The runtime's parent-death signal fires when the thread that started it ends, and
	// threads do end in hush (a rootless one cannot return from a step's network
	// namespace): this thread stays with Run until the runtime exited.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	bundle := filepath.Join(o.bundleDir, c.ID)
	err := os.Mkdir(bundle, 0o700)
	if err != nil {
		return fmt.Errorf("creating bundle: %w", err)
	}
	defer os.RemoveAll(bundle)
	if len(c.ExtraHosts) > 0 {
		cc := *c
		if cc.hostsFile, err = writeHostsFile(bundle, c); err != nil {
			return err
		}
		c = &cc
	}
	spec, err := Spec(c)
	if err != nil {
		return err
	}
	if err := o.confine(spec, c.Rootfs, c.Insecure); err != nil {
		return err
	}
	if o.stepLock != "" {
		unlock, err := lockFile(ctx, o.stepLock)
		if err != nil {
			return err
		}
		defer unlock()
	}
	args := o.rootlessArgs(spec, bundle)
	if err := writeSpec(filepath.Join(bundle, "config.json"), spec); err != nil {
		return err
	}
	args = append(args, "run", "--bundle", bundle, c.ID)
	cmd := exec.Command(o.binary, args...)
	cmd.Stdout, cmd.Stderr = c.Stdout, c.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if o.name == "crun" {
		// crun runs as PID 1 of its own PID namespace: if it dies (Pdeathsig when hush
		// dies) the kernel kills every process of the step, which a plain `crun run` would
		// leave running. runc reads /proc by its own PIDs and cannot run this way.
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWPID
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", o.name, err)
	}
	return o.wait(ctx, cmd, c.ID)
}

// wait waits for the started runtime cmd running container id; on cancellation it kills
// the step and deletes the container.
func (o *OCI) wait(ctx context.Context, cmd *exec.Cmd, id string) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		if cmd.SysProcAttr.Cloneflags&syscall.CLONE_NEWPID != 0 {
			// crun is PID 1 of its own PID namespace: killing it kills every process of
			// the step at once. `crun kill` would not do: the PID in its state file is one
			// of that namespace, not of ours.
			_ = cmd.Process.Kill()
		} else {
			o.kill(id)
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		o.delete(id)
		return ctx.Err()
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() > 0 {
			return &ExitError{Code: ee.ExitCode()}
		}
		return fmt.Errorf("running %s: %w", o.name, err)
	}
	return nil
}

// rootlessArgs fits spec to a user namespace (rootless) and a shared /proc, and returns
// the runtime's global arguments.
func (o *OCI) rootlessArgs(spec *specs.Spec, bundle string) []string {
	args := o.globalArgs()
	if o.stepLock != "" {
		shareProc(spec)
	}
	if o.userNS && !ownNetNS(spec) {
		// sysfs may be mounted only by the owner of the network namespace: a step on
		// the host's network sees the host's /sys, read-only, as in rootless podman.
		bindSys(spec)
	}
	if o.name == "runc" && o.userNS {
		// In a user namespace runc bind-mounts the default devices itself (a second bind
		// fails), and warns about cgroups it may not use: its log goes to the bundle,
		// its errors still to stderr.
		spec.Mounts = withoutDefaultDevices(spec.Mounts)
		args = append(args, "--log", filepath.Join(bundle, "runc.log"))
	}
	return args
}

func (o *OCI) kill(id string) {
	args := append(o.globalArgs(), "kill", id, "KILL")
	if o.name == "runc" {
		args = append(o.globalArgs(), "kill", "--all", id, "KILL")
	}
	_ = exec.Command(o.binary, args...).Run()
}

func (o *OCI) delete(id string) {
	_ = exec.Command(o.binary, append(o.globalArgs(), "delete", "-f", id)...).Run()
}

func buildFilter(runtime string) (*seccompFilter, error) {
	p, err := defaultSeccomp()
	if err != nil {
		return nil, err
	}
	f := &seccompFilter{profile: p}
	if runtime == "crun" {
		if f.bpf, err = compileBPF(p); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// confine adds what keeps a step away from the host beyond its namespaces: Docker's
// default seccomp filter and, with crun, a hook that puts nodev back on the rootfs, which
// crun's own bind remount of the rootfs clears (runc keeps it). With nodev everywhere a
// step may make device nodes, as in docker run, but can never open one.
// An insecure step gets no seccomp filter, but keeps nodev.
func (o *OCI) confine(s *specs.Spec, rootfs string, insecure bool) error {
	f, err := o.filter()
	if err != nil {
		return err
	}
	if o.name != "crun" {
		if !insecure {
			s.Linux.Seccomp = f.profile
		}
		return nil
	}
	if !insecure {
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[bpfAnnotation] = f.bpf
	}
	// crun writes the container state to a hook's stdin and fails on EPIPE if the hook
	// exited without reading it: the shell reads it, then becomes mount(8).
	s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{
		Path: o.shell,
		Args: []string{"sh", "-c", `read -r _ || :; exec "$0" -o remount,bind,nodev "$1"`, o.mount, rootfs},
	}}}
	return nil
}
