package gitsource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// runner runs git in one scratch area with a minimal environment. Only the commands that
// talk to the remote (runRemote) get the credential environment.
type runner struct {
	git       string
	dir       string
	baseEnv   []string
	remoteEnv []string // baseEnv plus auth: the header or the ssh command and agent socket
	stderr    *redactor
	tail      *tailBuffer
}

// newRunner builds the environments for one fetch. home and templates are empty
// directories private to this fetch; home is also TMPDIR, so temporary files of git and
// the programs it starts stay in the fetch's scratch area and go with it.
func newRunner(git, dir, home, templates string, ref Ref, opts Options, stderr *redactor, tail *tailBuffer) *runner {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	base := []string{
		"PATH=" + path,
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + home,
		"TMPDIR=" + home,
		"LC_ALL=C",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_TEMPLATE_DIR=" + templates,
		"GIT_ALLOW_PROTOCOL=http:https:ssh:git",
	}
	remote := append([]string(nil), base...)
	switch schemeOf(ref.Remote) {
	case "http", "https":
		if opts.AuthHeader != "" {
			remote = append(remote,
				"GIT_CONFIG_COUNT=1",
				"GIT_CONFIG_KEY_0=http."+tokenScope(ref.Remote)+".extraheader",
				"GIT_CONFIG_VALUE_0=Authorization: "+opts.AuthHeader)
		}
	case "ssh":
		remote = append(remote, "GIT_SSH_COMMAND="+sshCommand(opts.KnownHosts), "GIT_SSH_VARIANT=ssh")
		if opts.SSHAuthSock != "" {
			remote = append(remote, "SSH_AUTH_SOCK="+opts.SSHAuthSock)
		}
	}
	return &runner{git: git, dir: dir, baseEnv: base, remoteEnv: remote, stderr: stderr, tail: tail}
}

// sshCommand is the ssh git runs: no user or system ssh config, no key files, the agent's
// keys only, and host keys checked strictly against knownHosts and nothing else.
func sshCommand(knownHosts string) string {
	return strings.Join([]string{
		"ssh", "-F", "/dev/null",
		"-o", "IdentitiesOnly=no",
		"-o", "IdentityFile=none",
		"-o", "UserKnownHostsFile=" + shellQuote(knownHosts),
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "UpdateHostKeys=no",
		"-o", "BatchMode=yes",
		"-o", "ControlMaster=no",
		"-o", "ControlPath=none",
		"-o", "ForwardAgent=no",
		"-o", "ForwardX11=no",
		"-o", "ClearAllForwardings=yes",
	}, " ")
}

// shellQuote quotes s for sh, which is how git runs GIT_SSH_COMMAND.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// run runs git without credentials and returns its trimmed stdout.
func (r *runner) run(ctx context.Context, args ...string) (string, error) {
	return r.exec(ctx, r.baseEnv, args)
}

// runRemote runs a git command that talks to the remote, with credentials in its environment.
func (r *runner) runRemote(ctx context.Context, args ...string) (string, error) {
	return r.exec(ctx, r.remoteEnv, args)
}

func (r *runner) exec(ctx context.Context, env, args []string) (string, error) {
	var stdout bytes.Buffer
	cmd := exec.CommandContext(ctx, r.git, args...)
	cmd.Dir = r.dir
	cmd.Env = env
	cmd.Stdout = &stdout
	r.tail.Reset()
	cmd.Stderr = r.stderr
	// git spawns helpers (git-remote-https, ssh, index-pack): cancel the whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ferr := r.stderr.Flush(); err == nil && ferr != nil {
		err = ferr
	}
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("git %s: %w", args[0], ctx.Err())
		}
		return "", &gitError{cmd: args[0], err: err, stderr: r.tail.String()}
	}
	return strings.TrimSpace(stdout.String()), nil
}

// gitError is a failed git command with the (already redacted) end of its stderr.
type gitError struct {
	cmd    string
	err    error
	stderr string
}

func (e *gitError) Error() string {
	msg := "git " + e.cmd + ": " + e.err.Error()
	if s := strings.TrimSpace(e.stderr); s != "" {
		msg += ": " + strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " | ")), " ")
	}
	return msg
}

func (e *gitError) Unwrap() error { return e.err }

// stderrContains reports whether err is a gitError whose stderr holds any of subs.
func stderrContains(err error, subs ...string) bool {
	var ge *gitError
	if !errors.As(err, &ge) {
		return false
	}
	for _, s := range subs {
		if strings.Contains(ge.stderr, s) {
			return true
		}
	}
	return false
}

// redactor writes to w with every secret replaced, a line at a time so that a secret
// split across writes is still caught.
type redactor struct {
	w       io.Writer
	secrets []string
	buf     []byte
}

func (r *redactor) Write(p []byte) (int, error) {
	r.buf = append(r.buf, p...)
	if i := bytes.LastIndexAny(r.buf, "\r\n"); i >= 0 {
		if err := r.emit(r.buf[:i+1]); err != nil {
			return 0, err
		}
		r.buf = append(r.buf[:0], r.buf[i+1:]...)
	} else if len(r.buf) > 64<<10 {
		if err := r.Flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes whatever is buffered.
func (r *redactor) Flush() error {
	if len(r.buf) == 0 {
		return nil
	}
	err := r.emit(r.buf)
	r.buf = r.buf[:0]
	return err
}

func (r *redactor) emit(p []byte) error {
	s := string(p)
	for _, sec := range r.secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[REDACTED]")
		}
	}
	_, err := io.WriteString(r.w, s)
	return err
}

// tailBuffer keeps the last few KiB written to it, for error messages.
type tailBuffer struct{ b []byte }

const tailMax = 8 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > tailMax {
		t.b = append(t.b[:0], t.b[len(t.b)-tailMax:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) Reset() { t.b = t.b[:0] }

// String returns the kept text without progress lines (those ending in a carriage return).
func (t *tailBuffer) String() string {
	var lines []string
	for _, l := range strings.Split(string(t.b), "\n") {
		l = strings.TrimRight(l, "\r")
		if i := strings.LastIndex(l, "\r"); i >= 0 {
			l = l[i+1:]
		}
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.Join(lines, "\n")
}

// isHex reports whether s is at least minLen hex digits.
func isHex(s string, minLen int) bool {
	if len(s) < minLen {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}
