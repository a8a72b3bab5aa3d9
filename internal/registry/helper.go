package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// HelperPrefix is the prefix of docker credential helper programs.
const HelperPrefix = "docker-credential-"

// tokenUser is the user name a helper returns when Secret is an identity token.
const tokenUser = "<token>"

// helperNotFound is what helpers print (on stdout, exiting 1) for an unknown
// server, per docker-credential-helpers.
const helperNotFound = "credentials not found in native keychain"

// ErrHelperNotFound is returned (wrapped) when a credential helper program is
// not on PATH.
var ErrHelperNotFound = errors.New("credential helper not found")

// Helper runs one docker credential helper (docker-credential-<Name>) with
// the helper protocol: `get` with the server URL on stdin, a JSON
// {"ServerURL","Username","Secret"} on stdout.
type Helper struct {
	// Name is the helper's suffix ("pass" runs docker-credential-pass).
	Name string
	// Env is the helper's environment (PATH is also where it is looked up);
	// nil means os.Environ().
	Env []string
	// Stderr receives the helper's stderr (prompts, diagnostics); nil discards it.
	Stderr io.Writer
}

// Get asks the helper for serverURL's credentials. found is false when the
// helper knows no credentials for it. Errors name the helper and the server,
// never anything the helper printed.
func (h Helper) Get(ctx context.Context, serverURL string) (e Entry, found bool, err error) {
	if strings.ContainsAny(h.Name, `/\`) || h.Name == "" {
		return Entry{}, false, fmt.Errorf("running credential helper %q: invalid name", h.Name)
	}
	prog := HelperPrefix + h.Name
	env := h.Env
	if env == nil {
		env = os.Environ()
	}
	path, err := lookPath(prog, envValue(env, "PATH"))
	if err != nil {
		return Entry{}, false, fmt.Errorf("running %s for %s: %w", prog, serverURL, err)
	}
	cmd := exec.CommandContext(ctx, path, "get")
	cmd.Env = env
	cmd.Stdin = strings.NewReader(serverURL)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = h.Stderr
	defer clear(out.Bytes())
	if err := cmd.Run(); err != nil {
		if strings.TrimSpace(out.String()) == helperNotFound {
			return Entry{}, false, nil
		}
		return Entry{}, false, fmt.Errorf("running %s get for %s: %w", prog, serverURL, exitError(err))
	}
	var resp struct {
		Username string
		Secret   string
	}
	if err := json.Unmarshal(out.Bytes(), &resp); err != nil {
		return Entry{}, false, fmt.Errorf("reading %s answer for %s: %w", prog, serverURL, jsonError(err))
	}
	if resp.Username == tokenUser {
		return Entry{IdentityToken: resp.Secret}, resp.Secret != "", nil
	}
	e = Entry{Username: resp.Username, Password: resp.Secret}
	return e, !e.empty(), nil
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
