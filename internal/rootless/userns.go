package rootless

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// stageEnv is set in the environment of the hush the child runs once its maps are
// written: Resume then finishes the handshake.
const stageEnv = "_HUSH_USERNS_STAGE"

// syncFD is the child's end of the pipe the parent writes a line to once the maps are
// written, and keeps open for as long as it lives.
const syncFD = 3

// waitScript is what the child runs first, as sh: it waits for the parent's line, then
// becomes hush ($0, with the arguments that follow), which starts as root of the
// namespace with every capability in it (capabilities are computed at exec, so hush must
// be executed after the maps exist). A short-lived sh keeps hush's own start-up out of
// the wait.
const waitScript = `IFS= read -r ok <&3 && exec "$0" "$@"`

// InUserNS reports whether this process runs in a user namespace other than the initial
// one (its uid map is not the identity over every ID).
func InUserNS() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	return !isIdentityMap(b)
}

func isIdentityMap(b []byte) bool {
	f := strings.Fields(string(b))
	return len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295"
}

// Plan is what a parent needs to give a child its user namespace: the user's IDs, the
// ranges granted to them and the setuid (or file-capability) helpers that write the maps.
type Plan struct {
	User                 string
	UID, GID             uint32
	UIDRanges, GIDRanges []Range
	NewUIDMap, NewGIDMap string
}

// NewPlan finds the helpers and the calling user's ranges, or fails naming what to
// install or configure.
func NewPlan() (*Plan, error) {
	p := &Plan{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
	u, err := user.LookupId(strconv.Itoa(os.Getuid()))
	if err != nil {
		return nil, fmt.Errorf("rootless: looking up user %d: %w (a rootless build needs a user with a name in /etc/passwd)", p.UID, err)
	}
	p.User = u.Username
	for _, h := range []struct {
		name string
		dst  *string
	}{{"newuidmap", &p.NewUIDMap}, {"newgidmap", &p.NewGIDMap}} {
		if *h.dst, err = exec.LookPath(h.name); err != nil {
			return nil, fmt.Errorf("rootless: %s not found: install the Debian package uidmap", h.name)
		}
	}
	if p.UIDRanges, err = ReadRanges(SubUIDFile, p.User, p.UID); err == nil {
		p.GIDRanges, err = ReadRanges(SubGIDFile, p.User, p.UID)
	}
	if err == nil && (len(p.UIDRanges) == 0 || len(p.GIDRanges) == 0) {
		err = errors.New("no range for this user")
	}
	if err != nil {
		return nil, fmt.Errorf("rootless: %w: user %s needs subordinate IDs in %s and %s, e.g. `sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s`",
			err, p.User, SubUIDFile, SubGIDFile, p.User)
	}
	return p, nil
}

// Start starts cmd in a new user namespace (its SysProcAttr, Env and ExtraFiles are
// extended) and writes the child's maps; the child (Resume) waits for them and then runs
// as root of the namespace. release must be called once the child has exited: until
// then the child can tell that its parent lives.
func (p *Plan) Start(cmd *exec.Cmd) (release func(), err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("rootless: %w", err)
	}
	defer r.Close()
	if len(cmd.ExtraFiles) != 0 {
		return nil, errors.New("rootless: internal error: the child's fd 3 is taken")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		return nil, fmt.Errorf("rootless: %w", err)
	}
	cmd.ExtraFiles = []*os.File{r}
	cmd.Env = append(cmd.Env, stageEnv+"=mapped")
	cmd.Args = append([]string{"sh", "-c", waitScript, cmd.Path}, cmd.Args[1:]...)
	cmd.Path = sh
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, diagnoseClone(err)
	}
	if err := p.writeMaps(cmd.Process.Pid); err != nil {
		w.Close() // the child reads EOF and exits
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, err
	}
	if _, err := w.Write([]byte("ok\n")); err != nil {
		w.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("rootless: releasing the child: %w", err)
	}
	return func() { w.Close() }, nil
}

// writeMaps runs newuidmap and newgidmap for the child pid, at once (each writes its own
// map).
func (p *Plan) writeMaps(pid int) error {
	helpers := []struct {
		bin    string
		id     uint32
		ranges []Range
	}{{p.NewUIDMap, p.UID, p.UIDRanges}, {p.NewGIDMap, p.GID, p.GIDRanges}}
	errs := make(chan error, len(helpers))
	for _, m := range helpers {
		args := append([]string{strconv.Itoa(pid)}, MapArgs(m.id, m.ranges)...)
		go func() {
			var out bytes.Buffer
			c := exec.Command(m.bin, args...)
			c.Stdout, c.Stderr = &out, &out
			if err := c.Run(); err != nil {
				errs <- diagnoseMapHelper(m.bin, strings.TrimSpace(out.String()), err)
				return
			}
			errs <- nil
		}()
	}
	var err error
	for range helpers {
		err = errors.Join(err, <-errs)
	}
	return err
}

// Resume is the child's side of Start; main calls it before anything else. In the hush
// the child became once its maps were written it restores the parent-death signal that
// gaining capabilities at exec cleared, and returns. Anywhere else it does nothing.
func Resume() error {
	if os.Getenv(stageEnv) != "mapped" {
		return nil
	}
	os.Unsetenv(stageEnv)
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("rootless: setting the parent-death signal: %w", err)
	}
	// The parent may have died before the signal was set: its end of the pipe is then
	// closed.
	fds := []unix.PollFd{{Fd: syncFD, Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, 0); err == nil && n > 0 && fds[0].Revents&unix.POLLHUP != 0 {
		os.Exit(1)
	}
	return unix.Close(syncFD)
}

// Maps describes this process's uid and gid maps ("uid 0→1001 (1), 1→100000 (65536); gid
// …"), as `hush info` shows them.
func Maps() string {
	var parts []string
	for _, kind := range []string{"uid", "gid"} {
		b, err := os.ReadFile("/proc/self/" + kind + "_map")
		if err != nil {
			return "unknown: " + err.Error()
		}
		parts = append(parts, kind+" "+formatMap(string(b)))
	}
	return strings.Join(parts, "; ")
}

// formatMap turns a /proc/PID/uid_map text into "inside→outside (count), …".
func formatMap(text string) string {
	var runs []string
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 {
			runs = append(runs, fmt.Sprintf("%s→%s (%s)", f[0], f[1], f[2]))
		}
	}
	return strings.Join(runs, ", ")
}
