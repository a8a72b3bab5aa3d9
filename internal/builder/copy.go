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

// copyAction prepares COPY/ADD: it opens the source (context, stage, image or inline
// heredoc files), digests what will be copied for the cache key, and copies on execute.
func (r *run) copyAction(ctx context.Context, st *plan.Stage, state *plan.State, res *stageResult, step *plan.Step) (*action, error) {
	cs := step.Copy
	a := &action{}
	var cleanups []func()
	a.cleanup = func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	fail := func(err error) (*action, error) { a.cleanup(); return nil, err }

	var src fscopy.Source
	identity := "context"
	var locals, urls []string
	var gits []gitsource.Ref
	switch {
	case len(cs.Contents) > 0:
		dir, err := r.inlineFiles(cs)
		if err != nil {
			return fail(err)
		}
		cleanups = append(cleanups, func() { os.RemoveAll(dir) })
		src, identity = fscopy.Source{Root: dir}, "inline"
		for _, c := range cs.Contents {
			locals = append(locals, c.Path)
		}
	case cs.From != "":
		fr, err := r.fromSource(ctx, st, cs.From, cs.FromStage)
		if err != nil {
			return fail(err)
		}
		lowers, err := r.lowers(fr.layers)
		if err != nil {
			return fail(err)
		}
		dir, rm, err := r.b.mountDir()
		if err != nil {
			return fail(err)
		}
		cleanups = append(cleanups, rm)
		unmount, err := snapshot.MountReadOnly(lowers, dir)
		if err != nil {
			return fail(fmt.Errorf("mounting --from=%s: %w", cs.From, err))
		}
		cleanups = append(cleanups, func() { _ = unmount() })
		src, identity = fscopy.Source{Root: dir}, fr.key
		locals = cs.Sources
	default:
		src = r.contextSource()
		for _, s := range cs.Sources {
			ref, git, err := gitsource.Parse(s)
			if cs.Add && err != nil {
				return fail(err)
			}
			switch {
			case cs.Add && git:
				ref.KeepGitDir = ref.KeepGitDir || cs.KeepGitDir
				gits = append(gits, ref)
			case cs.Add && isURL(s):
				urls = append(urls, s)
			default:
				locals = append(locals, s)
			}
		}
	}
	if !cs.Add && len(urls) > 0 {
		return fail(fmt.Errorf("source can't be a URL for COPY"))
	}
	opts := fscopy.Options{KeepOwner: cs.From != "", Exclude: cs.Excludes,
		ExtractArchives: cs.Add && (cs.Unpack == nil || *cs.Unpack) && cs.From == ""}
	if cs.Chmod != "" {
		m, err := strconv.ParseUint(cs.Chmod, 8, 32)
		if err != nil {
			return fail(fmt.Errorf("--chmod=%s: %w", cs.Chmod, err))
		}
		mode := os.FileMode(m)
		opts.Chmod = &mode
	}
	k := cache.NewKey("copy", res.key).Add("from", identity).Add("add", strconv.FormatBool(cs.Add)).
		AddList("sources", cs.Sources).Add("dest", cs.Dest).Add("workdir", step.Workdir).
		Add("chown", cs.Chown).Add("chmod", cs.Chmod).AddList("exclude", cs.Excludes).
		Add("extract", strconv.FormatBool(opts.ExtractArchives))
	if len(locals) > 0 {
		d, err := fscopy.Digest(src, locals, cs.Excludes...)
		if err != nil {
			return fail(err)
		}
		k.Add("content", d)
	}
	// Each URL is downloaded once: its digest keys the cache, and on a miss the same file
	// is placed in the layer.
	var downloads []*fscopy.Downloaded
	if len(urls) > 0 {
		dir, rm, err := r.b.mountDir()
		if err != nil {
			return fail(err)
		}
		cleanups = append(cleanups, func() { os.RemoveAll(dir); rm() })
		for _, u := range urls {
			d, err := fscopy.Download(ctx, u, r.httpAuth(ctx, u), dir)
			if err != nil {
				return fail(err)
			}
			downloads = append(downloads, d)
			k.Add("url", u).Add("url-content", d.Sum)
		}
	}
	var gitDirs []string
	for _, g := range gits {
		dir, commit, err := r.fetchGitSource(ctx, g)
		if err != nil {
			return fail(err)
		}
		cleanups = append(cleanups, func() { os.RemoveAll(filepath.Dir(dir)) })
		gitDirs = append(gitDirs, dir)
		k.Add("git", gitsource.Redact(g.Remote)).Add("git-commit", commit).Add("git-subdir", g.Subdir).
			Add("git-keep", strconv.FormatBool(g.KeepGitDir))
	}
	a.key = k.Sum()
	a.execute = func(ctx context.Context, ws *snapshot.Workspace, _ *progress.Step) error {
		o := opts
		if cs.Chown != "" {
			owner, err := fscopy.ResolveOwner(ws.Merged, cs.Chown)
			if err != nil {
				return fmt.Errorf("--chown=%s: %w", cs.Chown, err)
			}
			o.Chown = &owner
		}
		if len(locals) > 0 {
			if err := fscopy.Copy(src, locals, ws.Merged, cs.Dest, step.Workdir, o); err != nil {
				return err
			}
		}
		for _, dir := range gitDirs {
			if err := fscopy.Copy(fscopy.Source{Root: dir}, []string{"/"}, ws.Merged, cs.Dest, step.Workdir, o); err != nil {
				return err
			}
		}
		for _, d := range downloads {
			if err := d.Place(ws.Merged, cs.Dest, step.Workdir, o); err != nil {
				return err
			}
		}
		return nil
	}
	return a, nil
}

// fetchGitSource fetches an ADD <git url> source into a temp dir.
func (r *run) fetchGitSource(ctx context.Context, g gitsource.Ref) (string, string, error) {
	parent, _, err := r.b.mountDir()
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
	dir, _, err := r.b.mountDir()
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
	a := &action{key: k.Sum()}
	a.execute = func(ctx context.Context, ws *snapshot.Workspace, _ *progress.Step) error {
		return mkdirAs(ws.Merged, step.Dir, step.User)
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
