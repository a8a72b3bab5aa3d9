package builder

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hush-build/hush/internal/gitsource"
)

// GitAuth is what fetching a Git source may use: the build's secrets (for
// GIT_AUTH_HEADER/GIT_AUTH_TOKEN[.<host>]), its --ssh agents (for ssh remotes, through the
// "default" id), and the known_hosts file host keys are checked against.
type GitAuth struct {
	Secrets    Secrets
	SSH        map[string]SSHSource
	KnownHosts string
	// RunDir is a tmpfs dir for the agent socket git's ssh connects to.
	RunDir string
	Stderr io.Writer
}

// FetchGit fetches ref into dest (which must not exist) and returns the commit.
func FetchGit(ctx context.Context, ref gitsource.Ref, dest string, a GitAuth) (string, error) {
	opts := gitsource.Options{KnownHosts: a.KnownHosts, Stderr: a.Stderr}
	scheme := strings.ToLower(strings.SplitN(ref.Remote, "://", 2)[0])
	if scheme == "http" || scheme == "https" {
		if a.Secrets != nil {
			for _, s := range gitsource.AuthSecretNames(ref.Remote) {
				if !a.Secrets.Has(s.ID) {
					continue
				}
				v, err := a.Secrets.Get(ctx, s.ID)
				if err != nil {
					return "", err
				}
				opts.AuthHeader = gitsource.Header(s, v)
				clear(v)
				break
			}
		}
	} else if src, ok := a.SSH["default"]; ok {
		dir := filepath.Join(a.RunDir, "ssh", "git-"+newID())
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("creating agent socket dir: %w", err)
		}
		defer os.RemoveAll(dir)
		sock := filepath.Join(dir, "agent.sock")
		stop, err := src.Serve(sock, os.Getuid(), os.Getgid(), 0o600)
		if err != nil {
			return "", fmt.Errorf("serving ssh agent for git: %w", err)
		}
		defer stop()
		opts.SSHAuthSock = sock
	}
	return gitsource.Fetch(ctx, ref, dest, opts)
}
