package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Errors callers can branch on (with errors.Is).
var (
	// ErrAuth means the remote refused the credentials, or wanted some and got none.
	ErrAuth = errors.New("git authentication failed")
	// ErrHostKey means the SSH server's host key is not the one in the known_hosts file.
	ErrHostKey = errors.New("ssh host key verification failed")
	// ErrNoKnownHosts means an SSH remote was asked for without a known_hosts file.
	ErrNoKnownHosts = errors.New("no known_hosts file for an ssh git remote: " +
		"host keys are always verified; pass --ssh-known-hosts FILE with the server's key " +
		"(e.g. from `ssh-keyscan -p PORT HOST`, checked against a fingerprint you trust)")
	// ErrRefNotFound means the remote has no such branch, tag or commit.
	ErrRefNotFound = errors.New("git revision not found")
)

// Options are the credentials and outputs of one Fetch.
type Options struct {
	// AuthHeader is the Authorization header value for http(s) remotes (see Header).
	// It reaches git only through its environment, scoped to the remote.
	AuthHeader string
	// SSHAuthSock is the ssh-agent socket used for ssh remotes.
	SSHAuthSock string
	// KnownHosts is the known_hosts file ssh remotes' host keys are checked against;
	// required for ssh remotes.
	KnownHosts string
	// Stderr receives git's progress output, with every credential redacted; may be nil.
	Stderr io.Writer
}

// validate checks the options against the remote they will be used for.
func (o Options) validate(ref Ref) error {
	if strings.ContainsAny(o.AuthHeader, "\r\n\x00") {
		return errors.New("invalid auth header: it contains a line break or NUL")
	}
	if hasPassword(ref.Remote) {
		return errors.New("credentials in the remote URL are not allowed; pass a GIT_AUTH_TOKEN or GIT_AUTH_HEADER secret")
	}
	switch schemeOf(ref.Remote) {
	case "https", "git":
	case "http":
		if o.AuthHeader != "" && !isLoopback(hostOf(ref.Remote)) {
			return errors.New("refusing to send git credentials over unencrypted http; use an https remote")
		}
	case "ssh":
		if o.KnownHosts == "" {
			return ErrNoKnownHosts
		}
		if _, err := os.Stat(o.KnownHosts); err != nil {
			return fmt.Errorf("reading known_hosts: %w", err)
		}
	default:
		return errors.New("unsupported git remote (want https://, http://, ssh://, git:// or user@host:path)")
	}
	return nil
}

// isLoopback reports whether host[:port] names the local machine.
func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Fetch clones ref.Remote at ref.Ref (a branch, tag or commit SHA; the remote's HEAD when
// empty) into dest, which must not exist but whose parent must. It fetches shallowly when
// it can, checks out the commit, keeps only ref.Subdir when set, and removes .git unless
// ref.KeepGitDir (a kept .git never holds a credential: they are passed in the
// environment only). With a Subdir the tree is the subdirectory's contents and carries no
// .git. It returns the full commit SHA. Nothing is left behind on failure.
func Fetch(ctx context.Context, ref Ref, dest string, opts Options) (commit string, err error) {
	rev := ref.Ref
	if rev == "" {
		rev = "HEAD"
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("fetching %s at %s: %w", Redact(ref.Remote), rev, err)
		}
	}()
	if err := opts.validate(ref); err != nil {
		return "", err
	}
	if err := validateRevision(ref.Ref); err != nil {
		return "", err
	}
	if ref.Subdir != "" && cleanSubdir(ref.Subdir) != filepath.ToSlash(filepath.Clean(ref.Subdir)) {
		return "", fmt.Errorf("invalid subdir %q: want a clean relative path", ref.Subdir)
	}
	if _, err := os.Lstat(dest); !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("checking destination %s: exists or is unreadable", dest)
	}
	git, err := exec.LookPath("git")
	if err != nil {
		return "", fmt.Errorf("finding git: %w", err)
	}

	scratch, err := os.MkdirTemp(filepath.Dir(dest), ".gitsource-*")
	if err != nil {
		return "", fmt.Errorf("creating scratch directory: %w", err)
	}
	defer os.RemoveAll(scratch)
	home, templates, repo := filepath.Join(scratch, "home"), filepath.Join(scratch, "templates"), filepath.Join(scratch, "repo")
	for _, d := range []string{home, templates, repo} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return "", fmt.Errorf("creating scratch directory: %w", err)
		}
	}

	progress := opts.Stderr
	if progress == nil {
		progress = io.Discard
	}
	tail := &tailBuffer{}
	red := &redactor{w: io.MultiWriter(progress, tail), secrets: secretsOf(opts.AuthHeader)}
	g := newRunner(git, repo, home, templates, ref, opts, red, tail)

	if _, err := g.run(ctx, "init", "--quiet"); err != nil {
		return "", err
	}
	if _, err := g.run(ctx, "remote", "add", "origin", ref.Remote); err != nil {
		return "", err
	}
	commit, err = fetchRevision(ctx, g, rev, authHint(ref, opts))
	if err != nil {
		return "", err
	}
	if ref.Checksum != "" && !strings.HasPrefix(commit, strings.ToLower(ref.Checksum)) {
		return "", fmt.Errorf("checking commit: got %s, want %s", commit, ref.Checksum)
	}
	if _, err := g.run(ctx, "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", commit, "--"); err != nil {
		return "", err
	}
	if err := place(repo, dest, ref); err != nil {
		return "", err
	}
	return commit, nil
}

// fetchRevision fetches rev into the repository and returns its commit. A branch, tag or
// full SHA is fetched at depth 1; anything else that looks like an abbreviated SHA falls
// back to fetching every branch and tag.
func fetchRevision(ctx context.Context, g *runner, rev, hint string) (string, error) {
	_, err := g.runRemote(ctx, "fetch", "--quiet", "--depth=1", "--no-tags", "--", "origin", rev)
	if err == nil {
		return g.run(ctx, "rev-parse", "--verify", "--end-of-options", "FETCH_HEAD^{commit}")
	}
	if classified := classify(err, hint); classified != nil {
		return "", classified
	}
	if !isHex(rev, 4) {
		return "", notFound(err)
	}
	if _, ferr := g.runRemote(ctx, "fetch", "--quiet", "--tags", "--", "origin",
		"+refs/heads/*:refs/remotes/origin/*"); ferr != nil {
		if classified := classify(ferr, hint); classified != nil {
			return "", classified
		}
		return "", ferr
	}
	commit, err := g.run(ctx, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrRefNotFound, err)
	}
	return commit, nil
}

// authHint tells the user what to do when authentication fails.
func authHint(ref Ref, opts Options) string {
	switch {
	case schemeOf(ref.Remote) == "ssh" && opts.SSHAuthSock == "":
		return "no ssh agent was given; forward one with --ssh"
	case schemeOf(ref.Remote) == "ssh":
		return "no key in the ssh agent was accepted"
	case opts.AuthHeader == "":
		return "no credentials were given; supply a GIT_AUTH_TOKEN or GIT_AUTH_HEADER secret, optionally suffixed ." + ref.Host()
	default:
		return "the remote rejected the credentials from the GIT_AUTH_* secret"
	}
}

// classify turns git's stderr into ErrAuth or ErrHostKey with a hint, or returns nil.
func classify(err error, hint string) error {
	switch {
	case stderrContains(err, "Host key verification failed", "REMOTE HOST IDENTIFICATION HAS CHANGED",
		"host key is known", "No ED25519 host key", "No RSA host key", "No ECDSA host key"):
		return fmt.Errorf("%w (the server's key is not in the known_hosts file given): %w", ErrHostKey, err)
	case stderrContains(err, "could not read Username", "could not read Password", "Authentication failed",
		"terminal prompts disabled", "returned error: 401", "returned error: 403", "Permission denied (publickey"):
		return fmt.Errorf("%w (%s): %w", ErrAuth, hint, err)
	}
	return nil
}

// notFound marks a failed fetch as a missing revision when git said so.
func notFound(err error) error {
	if stderrContains(err, "couldn't find remote ref", "not our ref", "unadvertised object") {
		return fmt.Errorf("%w: %w", ErrRefNotFound, err)
	}
	return err
}

// place moves the checked-out tree (or its Subdir) from repo to dest.
func place(repo, dest string, ref Ref) error {
	if ref.Subdir == "" {
		if !ref.KeepGitDir {
			if err := os.RemoveAll(filepath.Join(repo, ".git")); err != nil {
				return fmt.Errorf("removing .git: %w", err)
			}
		}
		if err := os.Rename(repo, dest); err != nil {
			return fmt.Errorf("moving checkout into place: %w", err)
		}
		return nil
	}
	if err := os.RemoveAll(filepath.Join(repo, ".git")); err != nil {
		return fmt.Errorf("removing .git: %w", err)
	}
	root, err := filepath.EvalSymlinks(repo)
	if err != nil {
		return fmt.Errorf("resolving checkout: %w", err)
	}
	sub, err := filepath.EvalSymlinks(filepath.Join(root, filepath.FromSlash(ref.Subdir)))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("resolving subdir %q: not found in the repository", ref.Subdir)
		}
		return fmt.Errorf("resolving subdir %q: %w", ref.Subdir, err)
	}
	rel, err := filepath.Rel(root, sub)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("resolving subdir %q: it points outside the repository", ref.Subdir)
	}
	if fi, err := os.Stat(sub); err != nil || !fi.IsDir() {
		return fmt.Errorf("resolving subdir %q: not a directory", ref.Subdir)
	}
	if err := os.Rename(sub, dest); err != nil {
		return fmt.Errorf("moving subdir into place: %w", err)
	}
	return nil
}
