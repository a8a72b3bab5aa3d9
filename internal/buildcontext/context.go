package buildcontext

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/hush-build/hush/internal/fsroot"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// maxIgnoreFileBytes bounds how much of an ignore file is read.
const maxIgnoreFileBytes = 10 << 20

// Context is an opened local build context. It is safe for concurrent use.
type Context struct {
	dir        string
	ignoreFile string   // host path of the ignore file in effect, "" if none
	patterns   []string // patterns as BuildKit reads them

	mu sync.Mutex // patternmatcher compiles lazily and is not safe for concurrent use
	pm *patternmatcher.PatternMatcher
}

// Open opens the build context rooted at dir. The ignore file is read the way
// BuildKit reads it: "<dockerfilePath>.dockerignore" (for example
// "Dockerfile.dockerignore" or "web.Dockerfile.dockerignore" next to the
// Dockerfile) if it exists, else "<dir>/.dockerignore". A relative
// dockerfilePath is taken relative to the current directory, as with
// "docker build -f"; an empty one means "<dir>/Dockerfile".
func Open(dir, dockerfilePath string) (*Context, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving context dir %q: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("opening context dir: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("opening context dir %q: not a directory", abs)
	}
	if dockerfilePath == "" {
		dockerfilePath = filepath.Join(abs, "Dockerfile")
	}
	c := &Context{dir: abs}
	for _, candidate := range []string{dockerfilePath + ".dockerignore", filepath.Join(abs, ".dockerignore")} {
		data, err := readIgnoreFile(abs, candidate)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		c.ignoreFile = candidate
		c.patterns, c.pm, err = parse(candidate, data)
		if err != nil {
			return nil, err
		}
		break
	}
	return c, nil
}

// readIgnoreFile reads an ignore file: inside the context it is resolved in the context
// (a symlink cannot reach a host file) and must be a regular file; one beside a Dockerfile
// the user named outside the context is read as asked, without blocking on a FIFO.
func readIgnoreFile(ctxDir, name string) ([]byte, error) {
	if rel, err := filepath.Rel(ctxDir, name); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
		b, err := fsroot.ReadFileIn(ctxDir, rel, maxIgnoreFileBytes)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("reading ignore file %s: %w", name, err)
		}
		return b, err
	}
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("opening ignore file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading ignore file %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("reading ignore file %s: not a regular file", name)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxIgnoreFileBytes+1)); err != nil {
		return nil, fmt.Errorf("reading ignore file %s: %w", name, err)
	}
	if buf.Len() > maxIgnoreFileBytes {
		return nil, fmt.Errorf("reading ignore file %s: larger than %d bytes", name, maxIgnoreFileBytes)
	}
	return buf.Bytes(), nil
}

// parse reads patterns with BuildKit's ignorefile rules and compiles them,
// naming the file and line of a pattern that does not compile.
func parse(name string, data []byte) ([]string, *patternmatcher.PatternMatcher, error) {
	patterns, err := ignorefile.ReadAll(bytes.NewReader(data))
	if err != nil {
		return nil, nil, fmt.Errorf("parsing ignore file %s: %w", name, err)
	}
	lines := patternLines(data)
	for i, p := range patterns {
		if _, err := patternmatcher.New([]string{p}); err != nil {
			if len(lines) == len(patterns) {
				return nil, nil, fmt.Errorf("parsing ignore file %s:%d: pattern %q: %w", name, lines[i], p, err)
			}
			return nil, nil, fmt.Errorf("parsing ignore file %s: pattern %q: %w", name, p, err)
		}
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing ignore file %s: %w", name, err)
	}
	return patterns, pm, nil
}

// patternLines returns the 1-based line numbers that ignorefile.ReadAll turns
// into patterns, mirroring its skip rules (BOM, "#" comments, blank lines).
func patternLines(data []byte) []int {
	var out []int
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if n == 1 {
			line = bytes.TrimPrefix(line, []byte{0xEF, 0xBB, 0xBF})
		}
		if bytes.HasPrefix(line, []byte("#")) || len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		out = append(out, n)
	}
	return out
}

// Dir is the absolute path of the context directory.
func (c *Context) Dir() string { return c.dir }

// IgnoreFile is the path of the ignore file in effect, or "" if there is none.
func (c *Context) IgnoreFile() string { return c.ignoreFile }

// Patterns returns the ignore patterns in effect, in file order.
func (c *Context) Patterns() []string { return append([]string(nil), c.patterns...) }

// Excluded reports whether rel, a slash-separated path relative to Dir(), is
// excluded by the ignore rules. A path is excluded when it or one of its
// parents matches a pattern and no later "!" exception re-includes it. The
// context root itself is never excluded.
func (c *Context) Excluded(rel string) (bool, error) {
	if c.pm == nil {
		return false, nil
	}
	rel = path.Clean("/" + rel)[1:]
	if rel == "" {
		return false, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ok, err := c.pm.MatchesOrParentMatches(filepath.FromSlash(rel))
	if err != nil {
		return false, fmt.Errorf("matching %q against %s: %w", rel, c.ignoreFile, err)
	}
	return ok, nil
}

// MayIncludeUnder reports whether some "!" exception could re-include a path
// below the excluded directory dir (slash-separated, relative to Dir()). When
// it returns false a walker may skip dir entirely. It errs on the side of true.
func (c *Context) MayIncludeUnder(dir string) bool {
	if c.pm == nil || !c.pm.Exclusions() {
		return false
	}
	dirParts := strings.Split(path.Clean("/" + dir)[1:], "/")
	for _, p := range c.pm.Patterns() {
		if !p.Exclusion() {
			continue
		}
		if prefixCompatible(literalPrefix(filepath.ToSlash(p.String())), dirParts) {
			return true
		}
	}
	return false
}

// literalPrefix returns the leading components of pattern that hold no
// wildcard or escape.
func literalPrefix(pattern string) []string {
	var out []string
	for _, part := range strings.Split(pattern, "/") {
		if strings.ContainsAny(part, `*?[\`) {
			break
		}
		out = append(out, part)
	}
	return out
}

// prefixCompatible reports whether a pattern starting with the literal
// components lit could match something below dir.
func prefixCompatible(lit, dir []string) bool {
	n := min(len(lit), len(dir))
	for i := 0; i < n; i++ {
		if lit[i] != dir[i] {
			return false
		}
	}
	// lit fully consumed before dir: the wildcard part may match anything.
	// dir fully consumed: the pattern names something below dir.
	return true
}
