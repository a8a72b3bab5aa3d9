package builder

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hush-build/hush/internal/buildcontext"
	"github.com/hush-build/hush/internal/dockerfile"
	"github.com/hush-build/hush/internal/fsroot"
	"github.com/hush-build/hush/internal/gitsource"
)

// inputs are a build's Dockerfile and context, opened.
type inputs struct {
	dockerfile *dockerfile.File
	context    *buildcontext.Context
	// gitURL and gitCommit name a Git context ("" for a local one).
	gitURL, gitCommit string
}

// loadInputs reads the Dockerfile and opens the build context a request names: a local
// directory, a Git URL (fetched into the session's scratch dir), or "-" (a Dockerfile on
// stdin and an empty context). Everything it fetches is removed with the scratch dir.
func (s *session) loadInputs(ctx context.Context, req *Request, git GitAuth) (*inputs, error) {
	in := &inputs{}
	ctxDir, dfPath, dfData, err := s.contextDir(ctx, req, git, in)
	if err != nil {
		return nil, err
	}
	if req.DockerfileInline != nil {
		dfData = req.DockerfileInline
	} else if dfData == nil {
		if dfData, err = readDockerfile(ctxDir, dfPath, req.Stdin); err != nil {
			return nil, err
		}
	}
	if dfPath == "-" {
		dfPath = filepath.Join(ctxDir, "Dockerfile")
	}
	df, err := dockerfile.Parse(filepath.Base(dfPath), bytes.NewReader(dfData))
	if err != nil {
		return nil, err
	}
	bctx, err := buildcontext.Open(ctxDir, dfPath)
	if err != nil {
		return nil, err
	}
	in.dockerfile, in.context = df, bctx
	return in, nil
}

// contextDir makes the context a local directory and says where the Dockerfile is (or
// returns its content when it came on stdin as the context).
func (s *session) contextDir(ctx context.Context, req *Request, git GitAuth, in *inputs) (dir, dfPath string, dfData []byte, err error) {
	dir, dfPath = req.Context, req.Dockerfile
	ref, isGit, perr := gitsource.Parse(dir)
	if _, statErr := os.Stat(dir); statErr == nil {
		isGit, perr = false, nil // an existing local path is never a Git shorthand
	}
	switch {
	case perr != nil:
		return "", "", nil, fmt.Errorf("build context %s: %w", gitsource.Redact(dir), perr)
	case isGit:
		if dir, in.gitCommit, err = s.fetchContext(ctx, ref, git); err != nil {
			return "", "", nil, err
		}
		in.gitURL = req.Context
	case dir == "-":
		if dfData, err = readStdinDockerfile(req.Stdin); err != nil {
			return "", "", nil, err
		}
		if dir, err = os.MkdirTemp(s.dir(), "ctx-"); err != nil {
			return "", "", nil, err
		}
	default:
		fi, err := os.Stat(dir)
		if err != nil {
			return "", "", nil, fmt.Errorf("build context %s: %w", dir, err)
		}
		if !fi.IsDir() {
			return "", "", nil, fmt.Errorf("build context %s: not a directory", dir)
		}
	}
	if dfPath == "" {
		dfPath = "Dockerfile"
	}
	if dfPath != "-" && !filepath.IsAbs(dfPath) && (isGit || req.Dockerfile == "") {
		dfPath = filepath.Join(dir, dfPath) // relative to the context, as for a Git context
	}
	return dir, dfPath, dfData, nil
}

// maxDockerfileBytes bounds a Dockerfile (BuildKit's lines are at most 64 KiB; a file of
// this size is far beyond any real one).
const maxDockerfileBytes = 32 << 20

// readDockerfile reads the Dockerfile at path, or stdin for "-". A Dockerfile inside the
// context is context content, maybe hostile: it is resolved inside the context (a symlink
// to /etc/shadow or /proc/self/environ leads nowhere) and must be a regular file. One the
// user named outside the context is read as asked.
func readDockerfile(ctxDir, path string, stdin io.Reader) ([]byte, error) {
	if path == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, maxDockerfileBytes+1))
		if err != nil {
			return nil, fmt.Errorf("reading Dockerfile from stdin: %w", err)
		}
		if len(b) > maxDockerfileBytes {
			return nil, fmt.Errorf("reading Dockerfile from stdin: larger than %d MiB", maxDockerfileBytes>>20)
		}
		return b, nil
	}
	var b []byte
	var err error
	if rel, ok := inside(ctxDir, path); ok {
		b, err = fsroot.ReadFileIn(ctxDir, rel, maxDockerfileBytes)
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading Dockerfile: %w", err)
	}
	return b, nil
}

// inside reports whether path lies in dir, and where, relative to it.
func inside(dir, path string) (string, bool) {
	ad, err1 := filepath.Abs(dir)
	ap, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return "", false
	}
	rel, err := filepath.Rel(ad, ap)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return rel, true
}

func readStdinDockerfile(stdin io.Reader) ([]byte, error) {
	data, err := readDockerfile("", "-", stdin)
	if err != nil {
		return nil, err
	}
	if isArchive(data) {
		return nil, fmt.Errorf("build context \"-\": a tar archive on stdin is not supported yet; pass a directory or a Git URL (a Dockerfile on stdin works)")
	}
	return data, nil
}

// fetchContext fetches a Git build context into the scratch dir.
func (s *session) fetchContext(ctx context.Context, ref gitsource.Ref, git GitAuth) (string, string, error) {
	parent, err := os.MkdirTemp(s.dir(), "git-")
	if err != nil {
		return "", "", err
	}
	commit, err := FetchGit(ctx, ref, filepath.Join(parent, "src"), git)
	if err != nil {
		os.RemoveAll(parent)
		return "", "", fmt.Errorf("build context: %w", err)
	}
	return filepath.Join(parent, "src"), commit, nil
}

// isArchive reports a gzip stream or a tar archive (ustar magic at offset 257).
func isArchive(b []byte) bool {
	if len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
		return true
	}
	return len(b) > 262 && string(b[257:262]) == "ustar"
}
