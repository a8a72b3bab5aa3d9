package lint

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/patternmatcher"
)

// sniffBytes is how much of a candidate file is read to decide whether it holds a secret.
const sniffBytes = 64 << 10

// secretFile is a file in the build context that holds credentials.
type secretFile struct {
	rel  string // slash-separated, relative to the context dir
	kind string
}

// contextFiles is the result of one walk over the visible build context.
type contextFiles struct {
	files []secretFile
	err   error
}

// checkCopy flags COPY/ADD sources from the context that would copy a secret file.
func (c *checker) checkCopy(cmd instructions.Command, instr string, sources, excludes []string, v *vars) {
	if c.opts.Context == nil {
		return
	}
	if c.files == nil {
		c.files = c.walk()
		if c.files.err != nil {
			c.report(nil, RuleContextUnreadable, Warning,
				"could not check every file of the build context for secrets: %v", c.files.err)
		}
	}
	if len(c.files.files) == 0 {
		return
	}
	var ex *patternmatcher.PatternMatcher
	if len(excludes) > 0 {
		ex, _ = patternmatcher.New(excludes)
	}
	reported := map[string]bool{}
	for _, src := range sources {
		if strings.Contains(src, "://") || strings.HasPrefix(src, "git@") {
			continue // remote source, not the context
		}
		pattern := path.Clean("/" + filepath.ToSlash(v.expand(src)))[1:]
		for _, f := range c.files.files {
			root, ok := copiedBy(pattern, f.rel)
			if !ok || reported[f.rel] || excluded(ex, f.rel, root) {
				continue
			}
			reported[f.rel] = true
			c.report(cmd, RuleCopySecretFile, Error,
				"%s %s would copy %s (%s) from the build context into the image; add it to .dockerignore, or mount it with RUN --mount=type=secret",
				instr, src, f.rel, f.kind)
		}
	}
}

// copiedBy reports whether a COPY source pattern (cleaned, relative to the context, ""
// for the root) copies rel: it names rel or one of its parent directories. It returns the
// matching path, which --exclude patterns are relative to.
func copiedBy(pattern, rel string) (string, bool) {
	if pattern == "" {
		return "", true
	}
	for p := rel; p != "." && p != "/"; p = path.Dir(p) {
		if ok, err := path.Match(pattern, p); err == nil && ok {
			return p, true
		}
	}
	return "", false
}

// excluded reports whether a COPY --exclude pattern drops rel; patterns are tried against
// the path relative to the matched source and relative to the context.
func excluded(ex *patternmatcher.PatternMatcher, rel, root string) bool {
	if ex == nil {
		return false
	}
	under := rel
	if root != "" && root != rel {
		under = strings.TrimPrefix(rel, root+"/")
	} else if root == rel {
		under = path.Base(rel)
	}
	for _, p := range []string{under, rel} {
		if ok, err := ex.MatchesOrParentMatches(filepath.FromSlash(p)); err == nil && ok {
			return true
		}
	}
	return false
}

// walk lists the secret files of the context that the ignore rules leave visible.
func (c *checker) walk() *contextFiles {
	bctx := c.opts.Context
	out := &contextFiles{}
	var errs []error
	err := filepath.WalkDir(bctx.Dir(), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, err)
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(bctx.Dir(), p)
		if err != nil || rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		ex, err := bctx.Excluded(rel)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if d.IsDir() {
			if ex && !bctx.MayIncludeUnder(rel) {
				return fs.SkipDir
			}
			return nil
		}
		if ex || !d.Type().IsRegular() {
			return nil
		}
		kind, err := secretKind(p, rel)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if kind != "" {
			out.files = append(out.files, secretFile{rel: rel, kind: kind})
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		out.err = fmt.Errorf("walking %s: %w", bctx.Dir(), errors.Join(errs...))
	}
	return out
}

var (
	sshKeyNames = map[string]bool{"id_rsa": true, "id_dsa": true, "id_ecdsa": true, "id_ed25519": true,
		"id_ecdsa_sk": true, "id_ed25519_sk": true}
	envTemplates = map[string]bool{".env.example": true, ".env.sample": true, ".env.template": true,
		".env.dist": true, ".env.defaults": true}
	privateKeyHeader = []byte("PRIVATE KEY-----")
)

// secretKind classifies the context file at host path p (rel inside the context): the
// kind of credential it holds, or "" for none.
func secretKind(p, rel string) (string, error) {
	base := path.Base(rel)
	switch {
	case base == ".env" || (strings.HasPrefix(base, ".env.") && !envTemplates[base]):
		return "a dotenv file", nil
	case sshKeyNames[base]:
		return "an SSH private key", nil
	case base == ".netrc" || base == "_netrc":
		return "a netrc file", nil
	case base == ".git-credentials":
		return "a git credentials file", nil
	case strings.HasSuffix("/"+rel, "/.aws/credentials"):
		return "AWS credentials", nil
	}
	var need [][]byte
	var kind string
	switch {
	case strings.HasSuffix(base, ".pem") || strings.HasSuffix(base, ".key"):
		need, kind = [][]byte{privateKeyHeader}, "a private key"
	case base == ".npmrc":
		need, kind = [][]byte{[]byte("_authToken"), []byte("_auth="), []byte("_password")}, "an npm token"
	case base == ".pypirc":
		need, kind = [][]byte{[]byte("password")}, "a PyPI password"
	case strings.HasSuffix("/"+rel, "/.docker/config.json"):
		need, kind = [][]byte{[]byte(`"auth"`), []byte(`"identitytoken"`)}, "registry credentials"
	default:
		return "", nil
	}
	head, err := sniff(p)
	if err != nil {
		return "", err
	}
	defer clear(head)
	for _, n := range need {
		if bytes.Contains(head, n) {
			return kind, nil
		}
	}
	return "", nil
}

func sniff(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, sniffBytes))
	if err != nil {
		clear(b)
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	return b, nil
}
