package fscopy

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
)

// copyParents is Copy for COPY --parents, as BuildKit's include patterns do it: each
// pattern is "[pivot/./]path" (the pivot is the source root when there is no "/./"); what
// path matches below the pivot — "**" for any number of directories, a matched directory
// with everything below it — lands in destPath at its path below the pivot, the
// directories on the way copied too (with their source metadata). A pattern without
// wildcards must match something.
func (c *copier) copyParents(t *tree, patterns []string, destPath string, excl *patternmatcher.PatternMatcher) error {
	if err := c.ensureDir(destPath); err != nil {
		return err
	}
	for _, p := range patterns {
		pivot, pattern, ok := strings.Cut(filepath.ToSlash(p), "/./")
		if !ok {
			pivot, pattern = "/", p
		}
		pattern = strings.TrimPrefix(path.Clean("/"+pattern), "/")
		m, err := t.resolveMatch(path.Clean("/" + pivot))
		if err != nil {
			return fmt.Errorf("copying: source %q: %w", p, err)
		}
		found, err := c.copyIncluded(t, m, pattern, destPath, excl)
		if err != nil {
			return fmt.Errorf("copying %q: %w", p, err)
		}
		if !found && !containsWildcards(p) {
			return fmt.Errorf("copying: source %q: %q: %w", p, path.Join("/", pivot, pattern), ErrNotFound)
		}
	}
	return nil
}

// copyIncluded copies what pattern matches below the directory m to destPath, keeping
// paths below m, and reports whether anything matched.
func (c *copier) copyIncluded(t *tree, m match, pattern, destPath string, excl *patternmatcher.PatternMatcher) (bool, error) {
	if !m.info.IsDir() {
		return false, errors.New("the part before /./ must be a directory")
	}
	pm, err := patternmatcher.New([]string{pattern})
	if err != nil {
		return false, fmt.Errorf("parsing pattern %q: %w", pattern, err)
	}
	c.begin()
	defer c.closeDirs()
	dirs := map[string]entry{} // directories met and not copied (yet)
	found := false
	err = t.walk(m, excl, func(e entry) (func() error, error) {
		if e.rel == "" {
			return nil, nil
		}
		ok, err := pm.MatchesOrParentMatches(filepath.FromSlash(e.rel))
		if err != nil {
			return nil, fmt.Errorf("matching %q: %w", e.rel, err)
		}
		if !ok {
			if e.info.IsDir() {
				dirs[e.rel] = e
			}
			return nil, nil
		}
		found = true
		if err := c.copyParentDirs(dirs, path.Dir(e.rel), destPath); err != nil {
			return nil, err
		}
		after, err := c.copyEntry(e, path.Join(destPath, e.rel))
		if after == nil || err != nil {
			return nil, err
		}
		return func() error { c.afters = append(c.afters, after); return nil }, nil
	})
	err = c.finish(err)
	return found, err
}

// copyParentDirs copies the directories of dir (a path below the pivot, "." for none) that
// are not in the destination yet, top-most first, with their source metadata.
func (c *copier) copyParentDirs(dirs map[string]entry, dir, destPath string) error {
	if dir == "." {
		return nil
	}
	if err := c.copyParentDirs(dirs, path.Dir(dir), destPath); err != nil {
		return err
	}
	e, pending := dirs[dir]
	if !pending {
		return nil
	}
	delete(dirs, dir)
	target := path.Join(destPath, dir)
	if _, err := c.root.Lstat(target); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	after, err := c.copyEntry(e, target)
	if err != nil {
		return err
	}
	c.afters = append(c.afters, after)
	return nil
}

// ParentsDigestPatterns returns, for COPY --parents patterns, patterns that name at least
// everything they can match, for Digest: each pattern's path up to its first wildcard
// component (the whole pivot-relative path when it has none). A "**" can reach any depth,
// which Digest's one-level wildcards cannot.
func ParentsDigestPatterns(patterns []string) []string {
	out := make([]string, 0, len(patterns))
	for _, p := range patterns {
		p = filepath.ToSlash(p)
		if pivot, rest, ok := strings.Cut(p, "/./"); ok {
			p = path.Join(pivot, rest)
		}
		literal, _ := splitWildcards(path.Clean("/" + p))
		out = append(out, literal)
	}
	return out
}
