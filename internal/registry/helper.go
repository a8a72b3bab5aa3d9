package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/docker/cli/cli/config/types"
	"github.com/docker/docker-credential-helpers/client"
	"github.com/docker/docker-credential-helpers/credentials"
)

// HelperPrefix is the prefix of docker credential helper programs.
const HelperPrefix = "docker-credential-"

// tokenUser is the user name a helper returns when Secret is an identity token.
const tokenUser = "<token>"

// ErrHelperNotFound is returned (wrapped) when a credential helper program is
// not on PATH.
var ErrHelperNotFound = errors.New("credential helper not found")

// helper asks one docker credential helper (docker-credential-<name>) for
// credentials through docker-credential-helpers' client, which speaks the
// protocol: `get` with the server URL on stdin, a JSON
// {"ServerURL","Username","Secret"} on stdout.
type helper struct {
	// name is the helper's suffix ("pass" runs docker-credential-pass).
	name string
	// env is the helper's environment (PATH is also where it is looked up);
	// nil means os.Environ().
	env []string
	// stderr receives the helper's stderr (prompts, diagnostics) once it has
	// answered, with the secret it handed out masked; nil discards it.
	stderr io.Writer
}

// get asks the helper for serverURL's credentials. found is false when the
// helper knows no credentials for it. Errors name the helper and the server,
// never anything the helper printed (the client's own errors quote its
// stdout, so they are not passed on).
func (h helper) get(ctx context.Context, serverURL string) (a types.AuthConfig, found bool, err error) {
	if strings.ContainsAny(h.name, `/\`) || h.name == "" {
		return a, false, fmt.Errorf("running credential helper %q: invalid name", h.name)
	}
	prog := HelperPrefix + h.name
	env := h.env
	if env == nil {
		env = os.Environ()
	}
	path, err := lookPath(prog, envValue(env, "PATH"))
	if err != nil {
		return a, false, fmt.Errorf("running %s for %s: %w", prog, serverURL, err)
	}
	p := &helperProgram{ctx: ctx, path: path, env: env}
	defer p.wipe()
	creds, err := client.Get(p.start, serverURL)
	switch {
	case credentials.IsErrCredentialsNotFound(err):
		p.logs.emit(nil, h.stderr, nil)
		return a, false, nil
	case err != nil && p.runErr != nil:
		p.logs.emit(nil, h.stderr, nil)
		return a, false, fmt.Errorf("running %s get for %s: %w", prog, serverURL, p.runErr)
	case err != nil:
		p.logs.emit(nil, h.stderr, nil)
		return a, false, fmt.Errorf("reading %s answer for %s: %w", prog, serverURL, jsonError(err))
	}
	p.logs.emit(nil, h.stderr, [][]byte{[]byte(creds.Secret)})
	if creds.Username == tokenUser {
		return types.AuthConfig{IdentityToken: creds.Secret}, creds.Secret != "", nil
	}
	a = types.AuthConfig{Username: creds.Username, Password: creds.Secret}
	return a, hasCredentials(a), nil
}

// helperProgram is the client.Program that runs a helper: with hush's context
// and environment, its stdout kept for the client (and wiped afterwards), its
// stderr held back until the secret it hands out is known.
type helperProgram struct {
	ctx    context.Context
	path   string
	env    []string
	args   []string
	stdin  io.Reader
	stdout bytes.Buffer
	logs   logBuffer
	// runErr is the run's exit status, without anything the helper printed.
	runErr error
}

// start is the client.ProgramFunc: one helperProgram serves one call.
func (p *helperProgram) start(args ...string) client.Program {
	p.args = args
	return p
}

// Input implements client.Program.
func (p *helperProgram) Input(in io.Reader) { p.stdin = in }

// Output implements client.Program.
func (p *helperProgram) Output() ([]byte, error) {
	cmd := exec.CommandContext(p.ctx, p.path, p.args...)
	cmd.Env, cmd.Stdin = p.env, p.stdin
	cmd.Stdout, cmd.Stderr = &p.stdout, p.logs.err()
	err := cmd.Run()
	p.runErr = exitError(err)
	return p.stdout.Bytes(), err
}

func (p *helperProgram) wipe() {
	clear(p.stdout.Bytes())
	p.logs.wipe()
}

// exitError keeps an exec error's status but drops anything it captured.
func exitError(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return errors.New(ee.ProcessState.String())
	}
	return err
}

// envValue is the last value of key in env.
func envValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

// lookPath finds an executable named prog in pathList (like exec.LookPath,
// but on the PATH the helper will get rather than hush's own).
func lookPath(prog, pathList string) (string, error) {
	for _, dir := range filepath.SplitList(pathList) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, prog)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w on PATH", prog, ErrHelperNotFound)
}
