package fscopy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/hush-build/hush/internal/fsroot"
	"github.com/moby/patternmatcher"
)

// ErrNotFound is returned (wrapped) when a source path without wildcards
// names nothing visible in the source root.
var ErrNotFound = errors.New("not found")

// Source is the tree COPY and ADD read from.
type Source struct {
	// Root is the context dir, or a stage's read-only rootfs mount.
	Root string
	// Exclude reports whether a slash-separated path relative to Root is
	// excluded (.dockerignore for the context). nil: nothing is excluded.
	// Excluded paths are invisible: neither matched nor copied, unless an
	// excluded directory still holds paths that are not excluded.
	Exclude func(rel string) (bool, error)
	// MayIncludeUnder reports whether an excluded directory may still hold
	// paths Exclude lets through ("!" exceptions). When it returns false the
	// directory is skipped unread. nil: every excluded directory is searched.
	MayIncludeUnder func(dir string) bool
	// Sums, when set, lets Digest skip reading files it has hashed before.
	Sums SumCache
}

// tree is a Source opened for reading. Paths are resolved inside it by fsroot; reads then
// use host paths built from those resolved (symlink-free) paths.
type tree struct {
	Source
	root string // absolute, cleaned
	fs   *fsroot.Root
}

func openTree(src Source) (*tree, error) {
	if src.Root == "" {
		return nil, errors.New("opening source: empty root")
	}
	root, err := filepath.Abs(src.Root)
	if err != nil {
		return nil, fmt.Errorf("opening source %q: %w", src.Root, err)
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("opening source: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("opening source %q: not a directory", root)
	}
	fsr, err := fsroot.Open(root)
	if err != nil {
		return nil, fmt.Errorf("opening source: %w", err)
	}
	return &tree{Source: src, root: root, fs: fsr}, nil
}

func (t *tree) close() error { return t.fs.Close() }

// resolve follows p inside the source root, checking every component met is visible,
// and returns its root-relative and host paths.
func (t *tree) resolve(p string) (string, string, error) {
	rel, err := t.fs.ResolveVisit(p, true, t.visitVisible)
	if err != nil {
		return "", "", err
	}
	return rel, filepath.Join(t.root, filepath.FromSlash(rel)), nil
}

// visible reports whether rel, which exists with Lstat info fi, can be seen.
func (t *tree) visible(rel string, fi fs.FileInfo) (bool, error) {
	if t.Exclude == nil || rel == "" {
		return true, nil
	}
	excluded, err := t.Exclude(rel)
	if err != nil {
		return false, fmt.Errorf("checking exclusion of %q: %w", rel, err)
	}
	if !excluded {
		return true, nil
	}
	if !fi.IsDir() || (t.MayIncludeUnder != nil && !t.MayIncludeUnder(rel)) {
		return false, nil
	}
	entries, err := os.ReadDir(filepath.Join(t.root, filepath.FromSlash(rel)))
	if err != nil {
		return false, fmt.Errorf("reading %q: %w", rel, err)
	}
	for _, e := range entries {
		cfi, err := e.Info()
		if err != nil {
			return false, fmt.Errorf("reading %q: %w", rel, err)
		}
		ok, err := t.visible(path.Join(rel, e.Name()), cfi)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// visitVisible is a visitFunc that fails with ErrNotFound on invisible paths.
func (t *tree) visitVisible(rel string, fi fs.FileInfo) error {
	ok, err := t.visible(rel, fi)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotFound
	}
	return nil
}

// match is one source a pattern expanded to, symlinks at it followed.
type match struct {
	name string      // base name the destination uses
	host string      // host path of what it resolves to
	rel  string      // root-relative path of what it resolves to
	info fs.FileInfo // Lstat of host
}

// expand turns one COPY source pattern into its matches, in lexical order.
// A pattern without wildcards must match; one with wildcards may match nothing.
func (t *tree) expand(pattern string) ([]match, error) {
	clean := path.Clean("/" + filepath.ToSlash(pattern))
	literal, wild := splitWildcards(clean)
	if len(wild) == 0 {
		m, err := t.resolveMatch(clean)
		if err != nil {
			return nil, fmt.Errorf("source %q: %w", pattern, err)
		}
		return []match{m}, nil
	}
	baseRel, baseHost, err := t.resolve(literal)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(baseHost); err != nil || !fi.IsDir() {
		return nil, nil
	}
	var rels []string
	if err := t.globDir(baseRel, wild, &rels); err != nil {
		return nil, fmt.Errorf("expanding source %q: %w", pattern, err)
	}
	out := make([]match, 0, len(rels))
	for _, rel := range rels {
		m, err := t.resolveMatch(rel)
		if err != nil {
			return nil, fmt.Errorf("source %q: %w", pattern, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// resolveMatch follows p (root-relative) to what it names, requiring every
// component met on the way to be visible.
func (t *tree) resolveMatch(p string) (match, error) {
	rel, host, err := t.resolve(p)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return match{}, fmt.Errorf("%q: %w", path.Clean("/"+p), ErrNotFound)
		}
		return match{}, err
	}
	fi, err := os.Lstat(host)
	if err != nil {
		if os.IsNotExist(err) || errors.Is(err, syscall.ENOTDIR) {
			return match{}, fmt.Errorf("%q: %w", path.Clean("/"+p), ErrNotFound)
		}
		return match{}, fmt.Errorf("reading %q: %w", p, err)
	}
	return match{name: path.Base(path.Clean("/" + p)), host: host, rel: rel, info: fi}, nil
}

// globDir appends to out the root-relative paths below dir whose components
// match the wildcard components wild, one directory level per component. Like
// filepath.Walk it does not descend through symlinks.
func (t *tree) globDir(dir string, wild []string, out *[]string) error {
	entries, err := os.ReadDir(filepath.Join(t.root, filepath.FromSlash(dir)))
	if err != nil {
		return fmt.Errorf("reading %q: %w", dir, err)
	}
	for _, e := range entries {
		ok, err := path.Match(wild[0], e.Name())
		if err != nil {
			return fmt.Errorf("matching %q: %w", wild[0], err)
		}
		if !ok {
			continue
		}
		rel := path.Join(dir, e.Name())
		fi, err := e.Info()
		if err != nil {
			return fmt.Errorf("reading %q: %w", rel, err)
		}
		if vis, err := t.visible(rel, fi); err != nil || !vis {
			if err != nil {
				return err
			}
			continue
		}
		if len(wild) == 1 {
			*out = append(*out, rel)
			continue
		}
		if fi.IsDir() {
			if err := t.globDir(rel, wild[1:], out); err != nil {
				return err
			}
		}
	}
	return nil
}

// splitWildcards splits a clean absolute slash path into the components
// before the first one holding a wildcard, joined, and the rest.
func splitWildcards(p string) (string, []string) {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, part := range parts {
		if containsWildcards(part) {
			return "/" + path.Join(parts[:i]...), parts[i:]
		}
	}
	return p, nil
}

func containsWildcards(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '*', '?', '[':
			return true
		}
	}
	return false
}

// entry is one path met while walking a match.
type entry struct {
	host string      // host path
	rel  string      // slash path relative to the match, "" for the match itself
	info fs.FileInfo // Lstat
}

// walkFunc handles one entry. For directories it may return a function run
// after the directory's children.
type walkFunc func(e entry) (after func() error, err error)

// walk visits m and, if it is a directory, every visible entry below it in
// lexical pre-order. Symlinks below m are not followed. excl holds COPY
// --exclude patterns, matched relative to m; nil excludes nothing.
func (t *tree) walk(m match, excl *patternmatcher.PatternMatcher, fn walkFunc) error {
	return t.walkEntry(entry{host: m.host, info: m.info}, m.rel, excl, fn)
}

func (t *tree) walkEntry(e entry, rootRel string, excl *patternmatcher.PatternMatcher, fn walkFunc) error {
	after, err := fn(e)
	if err != nil {
		return err
	}
	if !e.info.IsDir() {
		return nil
	}
	entries, err := os.ReadDir(e.host)
	if err != nil {
		return fmt.Errorf("reading %s: %w", e.host, err)
	}
	for _, de := range entries {
		child := entry{host: filepath.Join(e.host, de.Name()), rel: path.Join(e.rel, de.Name())}
		if child.info, err = de.Info(); err != nil {
			return fmt.Errorf("reading %s: %w", child.host, err)
		}
		if ok, err := t.keep(child, rootRel, excl); err != nil || !ok {
			if err != nil {
				return err
			}
			continue
		}
		if err := t.walkEntry(child, rootRel, excl, fn); err != nil {
			return err
		}
	}
	if after != nil {
		return after()
	}
	return nil
}

// keep reports whether e, met below a match whose root-relative path is
// rootRel, is visible and not dropped by --exclude. A directory dropped by
// --exclude is kept when a "!" exception keeps something below it.
func (t *tree) keep(e entry, rootRel string, excl *patternmatcher.PatternMatcher) (bool, error) {
	if ok, err := t.visible(path.Join(rootRel, e.rel), e.info); err != nil || !ok {
		return false, err
	}
	if excl == nil {
		return true, nil
	}
	skip, err := excl.MatchesOrParentMatches(filepath.FromSlash(e.rel))
	if err != nil {
		return false, fmt.Errorf("matching exclude patterns against %q: %w", e.rel, err)
	}
	if !skip {
		return true, nil
	}
	if !e.info.IsDir() || !excl.Exclusions() {
		return false, nil
	}
	entries, err := os.ReadDir(e.host)
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", e.host, err)
	}
	for _, de := range entries {
		child := entry{host: filepath.Join(e.host, de.Name()), rel: path.Join(e.rel, de.Name())}
		if child.info, err = de.Info(); err != nil {
			return false, fmt.Errorf("reading %s: %w", child.host, err)
		}
		if ok, err := t.keep(child, rootRel, excl); err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}
