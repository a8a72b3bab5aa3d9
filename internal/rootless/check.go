package rootless

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Host is where the checks read the kernel's settings and the signs of a container: "/"
// on a real system, a fixture tree in tests.
type Host struct{ Root string }

// System is the host hush runs on.
func System() Host { return Host{Root: "/"} }

func (h Host) read(name string) string {
	b, err := os.ReadFile(filepath.Join(h.Root, name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// InContainer reports signs that this process runs in a container: a container engine's
// name in PID 1's cgroup, or docker's or podman's marker file with an overlay root
// filesystem (a marker alone is also found on machines made from a container image).
func (h Host) InContainer() bool {
	cg := h.read("proc/1/cgroup")
	for _, s := range []string{"docker", "kubepods", "containerd", "libpod", "lxc"} {
		if strings.Contains(cg, s) {
			return true
		}
	}
	for _, f := range []string{".dockerenv", "run/.containerenv"} {
		if _, err := os.Stat(filepath.Join(h.Root, f)); err == nil {
			t := h.rootFSType()
			return t == "overlay" || strings.HasPrefix(t, "fuse")
		}
	}
	return false
}

// rootFSType is the filesystem type of the last mount at "/" in this process's mountinfo.
func (h Host) rootFSType() string {
	typ := ""
	for _, line := range strings.Split(h.read("proc/self/mountinfo"), "\n") {
		f := strings.Fields(line)
		_, after, ok := strings.Cut(line, " - ")
		if len(f) > 4 && f[4] == "/" && ok {
			typ, _, _ = strings.Cut(after, " ")
		}
	}
	return typ
}

// statusField is one "Name:\tvalue" line of /proc/self/status.
func (h Host) statusField(name string) string {
	for _, line := range strings.Split(h.read("proc/self/status"), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// AppArmorProfile is the AppArmor profile confining this process ("" without AppArmor).
func (h Host) AppArmorProfile() string {
	p := h.read("proc/self/attr/apparmor/current")
	if p == "" {
		p = h.read("proc/self/attr/current")
	}
	return p
}

func (h Host) confinedByAppArmor() bool {
	p := h.AppArmorProfile()
	return p != "" && p != "unconfined" && !strings.HasPrefix(p, "unconfined ")
}

// UserNSBlockers are the reasons the host's settings give for user namespaces failing,
// each with what to change; none when nothing explains it.
func (h Host) UserNSBlockers() []string {
	var out []string
	if h.read("proc/sys/kernel/unprivileged_userns_clone") == "0" {
		out = append(out, "user namespaces are off for ordinary users (kernel.unprivileged_userns_clone=0): `sudo sysctl -w kernel.unprivileged_userns_clone=1`")
	}
	if h.read("proc/sys/user/max_user_namespaces") == "0" {
		out = append(out, "user namespaces are off (user.max_user_namespaces=0): `sudo sysctl -w user.max_user_namespaces=28633`")
	}
	if h.read("proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1" {
		out = append(out, "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1): `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`, or an AppArmor profile for hush that allows `userns,`")
	}
	if h.InContainer() && h.statusField("Seccomp") == "2" {
		out = append(out, "this container's seccomp profile forbids creating user namespaces: run it with `--security-opt seccomp=unconfined` (Kubernetes: securityContext.seccompProfile.type: Unconfined)")
	}
	return out
}

func diagnoseClone(err error) error {
	return System().diagnoseClone(err)
}

func (h Host) diagnoseClone(err error) error {
	msg := fmt.Sprintf("rootless: creating a user namespace: %v", err)
	if b := h.UserNSBlockers(); len(b) > 0 {
		msg += ": " + strings.Join(b, "; ")
	}
	return errors.New(msg)
}

func diagnoseMapHelper(bin, output string, err error) error {
	return System().diagnoseMapHelper(bin, output, err)
}

// diagnoseMapHelper explains a failed newuidmap or newgidmap (at bin) that printed output.
func (h Host) diagnoseMapHelper(bin, output string, err error) error {
	name := filepath.Base(bin)
	msg := fmt.Sprintf("rootless: %s failed (%v)", name, err)
	if output != "" {
		msg += ": " + output
	}
	var hints []string
	if h.statusField("NoNewPrivs") == "1" {
		hints = append(hints, "hush runs with no_new_privs, so "+name+" cannot gain the privilege it needs: drop `--security-opt no-new-privileges` (Kubernetes: allowPrivilegeEscalation: true)")
	}
	if fi, serr := os.Stat(bin); serr == nil && fi.Mode()&os.ModeSetuid != 0 && h.InContainer() {
		capName := "cap_setuid"
		if name == "newgidmap" {
			capName = "cap_setgid"
		}
		hints = append(hints, fmt.Sprintf("inside a container a setuid %s fails; use a copy with a file capability instead: `install -m 0755 %s /usr/local/bin/%s && setcap %s=ep /usr/local/bin/%s` with /usr/local/bin first in PATH",
			name, bin, name, capName, name))
	}
	hints = append(hints, h.UserNSBlockers()...)
	if len(hints) == 0 {
		hints = append(hints, "check this user's ranges in "+SubUIDFile+" and "+SubGIDFile)
	}
	return errors.New(msg + ": " + strings.Join(hints, "; "))
}

// DiagnoseMount explains a mount that failed inside the namespace (what names it: "/proc",
// "overlay at DIR"), naming what to change about the container hush runs in.
func DiagnoseMount(what string, err error) error {
	return System().diagnoseMount(what, err)
}

func (h Host) diagnoseMount(what string, err error) error {
	if !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EACCES) {
		return err
	}
	if h.confinedByAppArmor() {
		return fmt.Errorf("%w: the AppArmor profile %q forbids mounts: run the container with `--security-opt apparmor=unconfined` (Kubernetes: securityContext.appArmorProfile.type: Unconfined)",
			err, h.AppArmorProfile())
	}
	if what == "/proc" && h.InContainer() {
		return fmt.Errorf("%w: the container's /proc has masked paths, so a new one cannot be mounted: run it with `--security-opt systempaths=unconfined` (Kubernetes: securityContext.procMount: Unmasked)", err)
	}
	return err
}

// ProcMasked reports mounts on paths inside /proc (a container's masked and read-only
// paths): the kernel then lets a user namespace mount no fresh /proc, for hush's PID
// namespace or a step's. Mounts on the empty directories the kernel itself keeps for them
// (binfmt_misc, an NFS server's nfsd, xenfs) do not count: they do not stop one.
func (h Host) ProcMasked() bool {
	for _, line := range strings.Split(h.read("proc/self/mountinfo"), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], "/proc/") && !isProcMountPoint(f[4]) {
			return true
		}
	}
	return false
}

// isProcMountPoint reports /proc's permanently empty directories made for other
// filesystems.
func isProcMountPoint(p string) bool {
	switch p {
	case "/proc/sys/fs/binfmt_misc", "/proc/fs/nfsd", "/proc/xen":
		return true
	}
	return false
}

// SharedProc reports whether hush, rootless, must share the /proc it was started with:
// in a user namespace (or about to make one) under a masked /proc.
func SharedProc() bool {
	return (os.Geteuid() != 0 || InUserNS()) && System().ProcMasked()
}
