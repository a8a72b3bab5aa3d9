package builder

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	digest "github.com/opencontainers/go-digest"

	"github.com/hush-build/hush/internal/cache"
	"github.com/hush-build/hush/internal/fscopy"
	"github.com/hush-build/hush/internal/gitsource"
	"github.com/hush-build/hush/internal/plan"
)

// copySource is one place a COPY or ADD takes files from. Whatever I/O a source needs to
// name its content — mounting a stage, downloading a URL, fetching a Git ref — is done
// when it is opened, before any key is computed; key only adds what was found.
type copySource interface {
	// key adds the content's identity to a step's cache key.
	key(k *cache.Key) error
	// place copies the content into the rootfs at dest (relative to workdir).
	place(rootfs, dest, workdir string, o fscopy.Options) error
	// close removes what opening the source left (mounts, downloads, checkouts).
	close()
}

// treeSource is a directory tree and the patterns copied from it: the build context, a
// stage's or an image's filesystem (mounted read-only), or heredoc files.
type treeSource struct {
	src      fscopy.Source
	patterns []string
	excludes []string
	// parents: the patterns are COPY --parents ones, which Digest cannot expand.
	parents bool
	done    func()
}

func (s *treeSource) key(k *cache.Key) error {
	patterns := s.patterns
	if s.parents {
		patterns = fscopy.ParentsDigestPatterns(patterns)
	}
	d, err := fscopy.Digest(s.src, patterns, s.excludes...)
	if err != nil {
		return err
	}
	k.Add("content", d)
	return nil
}

func (s *treeSource) place(rootfs, dest, workdir string, o fscopy.Options) error {
	return fscopy.Copy(s.src, s.patterns, rootfs, dest, workdir, o)
}

func (s *treeSource) close() {
	if s.done != nil {
		s.done()
	}
}

// urlSource is an ADD <url>, downloaded once: its digest keys the cache, and on a miss the
// same file is placed.
type urlSource struct {
	url  string
	file *fscopy.Downloaded
	dir  string
}

func (s *urlSource) key(k *cache.Key) error {
	k.Add("url", s.url).Add("url-content", s.file.Sum)
	return nil
}

func (s *urlSource) place(rootfs, dest, workdir string, o fscopy.Options) error {
	return s.file.Place(rootfs, dest, workdir, o)
}

func (s *urlSource) close() { os.RemoveAll(s.dir) }

// gitSource is an ADD <git url>, fetched once; its commit keys the cache.
type gitSource struct {
	ref    gitsource.Ref
	commit string
	dir    string // the checkout
}

func (s *gitSource) key(k *cache.Key) error {
	k.Add("git", gitsource.Redact(s.ref.Remote)).Add("git-commit", s.commit).Add("git-subdir", s.ref.Subdir).
		Add("git-keep", strconv.FormatBool(s.ref.KeepGitDir))
	return nil
}

func (s *gitSource) place(rootfs, dest, workdir string, o fscopy.Options) error {
	return fscopy.Copy(fscopy.Source{Root: s.dir}, []string{"/"}, rootfs, dest, workdir, o)
}

func (s *gitSource) close() { os.RemoveAll(filepath.Dir(s.dir)) }

// copySources opens the sources of a COPY/ADD, in the order their keys are added: the
// tree (context, stage, image or heredocs), then each URL, then each Git ref. identity
// names the tree for the key.
func (r *run) copySources(ctx context.Context, st *plan.Stage, cs *plan.CopySpec) (srcs []copySource, identity string, err error) {
	defer func() {
		if err != nil {
			closeSources(srcs)
			srcs = nil
		}
	}()
	switch {
	case len(cs.Contents) > 0:
		s, err := r.inlineSource(cs)
		return []copySource{s}, "inline", err
	case cs.From != "":
		if c, id, err := r.dirContext(ctx, st, cs.From); err != nil {
			return nil, "", err
		} else if c != nil {
			return []copySource{&treeSource{src: r.sourceOf(c), patterns: cs.Sources, excludes: cs.Excludes}}, id, nil
		}
		s, id, err := r.stageSource(ctx, st, cs)
		if err != nil {
			return nil, "", err
		}
		return []copySource{s}, id, nil
	}
	tree := &treeSource{src: r.contextSource(), excludes: cs.Excludes, parents: cs.Parents}
	if cs.Checksum != "" && len(cs.Sources) != 1 {
		return nil, "", fmt.Errorf("checksum can't be specified for multiple sources")
	}
	var urls []string
	var gits []gitsource.Ref
	for _, s := range cs.Sources {
		ref, git, err := gitsource.Parse(s)
		switch {
		case cs.Add && err != nil:
			return nil, "", err
		case cs.Add && git:
			ref.KeepGitDir = ref.KeepGitDir || cs.KeepGitDir
			if cs.Checksum != "" {
				if ref.Checksum != "" && ref.Checksum != cs.Checksum {
					return nil, "", fmt.Errorf("checksum mismatch %q != %q", cs.Checksum, ref.Checksum)
				}
				ref.Checksum = cs.Checksum
			}
			gits = append(gits, ref)
		case cs.Add && isURL(s):
			urls = append(urls, s)
		case isURL(s):
			return nil, "", fmt.Errorf("source can't be a URL for COPY")
		case cs.Checksum != "":
			return nil, "", fmt.Errorf("checksum requires HTTP(S) or Git sources")
		default:
			tree.patterns = append(tree.patterns, s)
		}
	}
	if len(tree.patterns) > 0 {
		srcs = append(srcs, tree)
	}
	for _, u := range urls {
		s, err := r.urlSource(ctx, u, cs.Checksum)
		if err != nil {
			return srcs, "", err
		}
		srcs = append(srcs, s)
	}
	for _, g := range gits {
		s, err := r.gitSource(ctx, g)
		if err != nil {
			return srcs, "", err
		}
		srcs = append(srcs, s)
	}
	return srcs, "context", nil
}

func closeSources(srcs []copySource) {
	for i := len(srcs) - 1; i >= 0; i-- {
		srcs[i].close()
	}
}

// stageSource mounts the filesystem of a --from stage or image read-only.
func (r *run) stageSource(ctx context.Context, st *plan.Stage, cs *plan.CopySpec) (*treeSource, string, error) {
	fr, err := r.fromSource(ctx, st, cs.From, cs.FromStage)
	if err != nil {
		return nil, "", err
	}
	lowers, err := r.lowers(fr.layers)
	if err != nil {
		return nil, "", err
	}
	dir, rm, err := r.s.mountDir()
	if err != nil {
		return nil, "", err
	}
	unmount, err := r.b.mounts.MountReadOnly(lowers, dir)
	if err != nil {
		rm()
		return nil, "", fmt.Errorf("mounting --from=%s: %w", cs.From, err)
	}
	return &treeSource{src: fscopy.Source{Root: dir}, patterns: cs.Sources, excludes: cs.Excludes,
		parents: cs.Parents, done: func() { _ = unmount(); rm() }}, fr.key, nil
}

// inlineSource writes COPY <<EOF heredoc contents (plan expanded them) into a scratch dir.
func (r *run) inlineSource(cs *plan.CopySpec) (*treeSource, error) {
	dir, err := r.inlineFiles(cs)
	if err != nil {
		return nil, err
	}
	s := &treeSource{src: fscopy.Source{Root: dir}, excludes: cs.Excludes, done: func() { os.RemoveAll(dir) }}
	for _, c := range cs.Contents {
		s.patterns = append(s.patterns, c.Path)
	}
	return s, nil
}

// urlSource downloads an ADD <url> into a scratch dir, with the host's HTTP auth secret;
// checksum (ADD --checksum, "sha256:<hex>"), when set, is what its content must hash to.
func (r *run) urlSource(ctx context.Context, u, checksum string) (*urlSource, error) {
	var want digest.Digest
	if checksum != "" {
		var err error
		if want, err = digest.Parse(checksum); err != nil {
			return nil, fmt.Errorf("--checksum=%s: %w", checksum, err)
		}
		if want.Algorithm() != digest.SHA256 {
			return nil, fmt.Errorf("--checksum=%s: only sha256 digests are supported", checksum)
		}
	}
	dir, _, err := r.s.mountDir()
	if err != nil {
		return nil, err
	}
	d, err := fscopy.Download(ctx, u, r.httpAuth(ctx, u), dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if want != "" && d.Sum != want.String() {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("ADD %s: the content's digest is %s, --checksum wants %s", gitsource.Redact(u), d.Sum, want)
	}
	r.mats.add(u, d.Sum)
	return &urlSource{url: u, file: d, dir: dir}, nil
}

// gitSource fetches an ADD <git url> into a scratch dir.
func (r *run) gitSource(ctx context.Context, g gitsource.Ref) (*gitSource, error) {
	dir, commit, err := r.fetchGitSource(ctx, g)
	if err != nil {
		return nil, err
	}
	r.mats.addGit(g.Remote, commit)
	return &gitSource{ref: g, commit: commit, dir: dir}, nil
}
