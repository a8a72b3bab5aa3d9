package builder

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	mode "github.com/tonistiigi/dchapes-mode"

	"github.com/hush-build/hush/internal/cache"
	"github.com/hush-build/hush/internal/fscopy"
	"github.com/hush-build/hush/internal/fsroot"
	"github.com/hush-build/hush/internal/gitsource"
	"github.com/hush-build/hush/internal/plan"
	"github.com/hush-build/hush/internal/progress"
	"github.com/hush-build/hush/internal/snapshot"
)

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// copyAction prepares COPY/ADD: it opens every source (fetching what must be fetched),
// keys the step on what the sources hold, and copies them on execute.
func (r *run) copyAction(ctx context.Context, st *plan.Stage, res *stageResult, step *plan.Step) (*action, error) {
	cs := step.Copy
	srcs, identity, err := r.copySources(ctx, st, cs)
	if err != nil {
		return nil, err
	}
	opts, err := copyOptions(cs)
	if err != nil {
		closeSources(srcs)
		return nil, err
	}
	k := cache.NewKey("copy", res.key).Add("from", identity).Add("add", strconv.FormatBool(cs.Add)).
		AddList("sources", cs.Sources).Add("dest", cs.Dest).Add("workdir", step.Workdir).
		Add("chown", cs.Chown).Add("chmod", cs.Chmod).AddList("exclude", cs.Excludes).
		Add("parents", strconv.FormatBool(cs.Parents)).
		Add("extract", strconv.FormatBool(opts.ExtractArchives))
	for _, s := range srcs {
		if err := s.key(k); err != nil {
			closeSources(srcs)
			return nil, err
		}
	}
	a := &action{key: k.Sum(), bound: r.isBound(res.key, identity), cleanup: func() { closeSources(srcs) }}
	a.execute = func(ctx context.Context, ws *snapshot.Workspace, _ *progress.Step) (finish, error) {
		o := opts
		if cs.Chown != "" {
			owner, err := fscopy.ResolveOwner(ws.Merged, cs.Chown)
			if err != nil {
				return nil, fmt.Errorf("--chown=%s: %w", cs.Chown, err)
			}
			o.Chown = &owner
		}
		for _, s := range srcs {
			if err := s.place(ws.Merged, cs.Dest, step.Workdir, o); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	return a, nil
}

// copyOptions are the COPY/ADD flags that change how files land.
func copyOptions(cs *plan.CopySpec) (fscopy.Options, error) {
	opts := fscopy.Options{KeepOwner: cs.From != "", Exclude: cs.Excludes, Parents: cs.Parents,
		ExtractArchives: cs.Add && (cs.Unpack == nil || *cs.Unpack) && cs.From == ""}
	if cs.Chmod == "" {
		return opts, nil
	}
	if m, err := strconv.ParseUint(cs.Chmod, 8, 32); err == nil {
		mode := os.FileMode(m)
		opts.Chmod = &mode
		return opts, nil
	}
	// plan accepted it: a symbolic mode, applied as BuildKit's copier does (umask 0).
	set, err := mode.ParseWithUmask(cs.Chmod, 0)
	if err != nil {
		return opts, fmt.Errorf("--chmod=%s: %w", cs.Chmod, err)
	}
	opts.ChmodSymbolic = &set
	return opts, nil
}

// fetchGitSource fetches an ADD <git url> source into a temp dir.
func (r *run) fetchGitSource(ctx context.Context, g gitsource.Ref) (string, string, error) {
	parent, _, err := r.s.mountDir()
	if err != nil {
		return "", "", err
	}
	commit, err := FetchGit(ctx, g, filepath.Join(parent, "src"), GitAuth{Secrets: r.opts.Secrets,
		SSH: r.opts.SSH, KnownHosts: r.opts.KnownHosts, RunDir: r.b.RunDir})
	if err != nil {
		os.RemoveAll(parent)
		return "", "", err
	}
	return filepath.Join(parent, "src"), commit, nil
}

// httpAuth builds the Authorization header for ADD <url> from the secrets
// HTTP_AUTH_HEADER_<host> (verbatim) and HTTP_AUTH_TOKEN_<host> ("Bearer " + token, which
// wins when both are set), as BuildKit does.
func (r *run) httpAuth(ctx context.Context, rawURL string) http.Header {
	u, err := url.Parse(rawURL)
	if err != nil || r.opts.Secrets == nil {
		return nil
	}
	// Never over cleartext, except to this machine (tests, local mirrors).
	if u.Scheme != "https" && !isLoopback(u.Hostname()) {
		return nil
	}
	h := http.Header{}
	for _, s := range []struct {
		id     string
		prefix string
	}{{"HTTP_AUTH_HEADER_" + u.Hostname(), ""}, {"HTTP_AUTH_TOKEN_" + u.Hostname(), "Bearer "}} {
		if !r.opts.Secrets.Has(s.id) {
			continue
		}
		v, err := r.opts.Secrets.Get(ctx, s.id)
		if err != nil {
			continue
		}
		h.Set("Authorization", s.prefix+string(v))
		clear(v)
	}
	if len(h) == 0 {
		return nil
	}
	return h
}

// isLoopback reports a host name or address of this machine's loopback.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// inlineFiles writes COPY <<EOF heredoc contents into a temp dir. plan has already
// expanded them (variables only, quotes kept, as BuildKit does).
func (r *run) inlineFiles(cs *plan.CopySpec) (string, error) {
	dir, _, err := r.s.mountDir()
	if err != nil {
		return "", err
	}
	for _, c := range cs.Contents {
		data := c.Data
		p := filepath.Join(dir, filepath.Clean("/"+c.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("writing heredoc %s: %w", c.Path, err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("writing heredoc %s: %w", c.Path, err)
		}
	}
	return dir, nil
}

func (r *run) mkdirAction(res *stageResult, step *plan.Step) (*action, error) {
	k := cache.NewKey("mkdir", res.key).Add("dir", step.Dir).Add("user", step.User)
	a := &action{key: k.Sum(), bound: r.isBound(res.key)}
	a.execute = func(ctx context.Context, ws *snapshot.Workspace, _ *progress.Step) (finish, error) {
		return nil, mkdirAs(ws.Merged, step.Dir, step.User)
	}
	return a, nil
}

// mkdirAs creates dir (and missing parents) inside rootfs, owned by user, resolving
// symlinks inside rootfs as the kernel would in the container.
func mkdirAs(rootfs, dir, user string) error {
	owner := fscopy.Owner{}
	if user != "" {
		o, err := fscopy.ResolveOwner(rootfs, user)
		if err != nil {
			return fmt.Errorf("USER %s: %w", user, err)
		}
		owner = o
	}
	root, err := fsroot.Open(rootfs)
	if err != nil {
		return fmt.Errorf("opening rootfs: %w", err)
	}
	defer root.Close()
	if _, err := root.MkdirAll(dir, 0o755, owner); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	return nil
}
