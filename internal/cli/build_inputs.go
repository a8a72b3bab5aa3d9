package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/buildcontext"
	"github.com/hush-build/hush/internal/dockerfile"
	"github.com/hush-build/hush/internal/gitsource"
	"github.com/hush-build/hush/internal/secret"
	"github.com/hush-build/hush/internal/sshagent"
)

// loadSecrets parses every --secret and reads the values into memory once.
func loadSecrets(flags []string) (*secret.Store, error) {
	var specs []secret.Spec
	for _, f := range flags {
		sp, err := secret.ParseSpec(f)
		if err != nil {
			return nil, fmt.Errorf("--secret %q: %w", f, err)
		}
		specs = append(specs, sp)
	}
	return secret.Load(specs, os.LookupEnv)
}

// redactError masks secret values in an error's text (keeping exit codes).
func redactError(err error, mask [][]byte) error {
	var ee *ExitError
	if err == nil || errors.As(err, &ee) || len(mask) == 0 {
		return err
	}
	msg := secret.Redact([]byte(err.Error()), mask)
	if string(msg) == err.Error() {
		return err
	}
	return errors.New(string(msg))
}

// maskValues lists the non-empty values of vals, which output must never show.
func maskValues(vals map[string][]byte) [][]byte {
	var out [][]byte
	for _, v := range vals {
		if len(v) > 0 {
			out = append(out, v)
		}
	}
	return out
}

// openAgents opens every --ssh source (keys are loaded into memory only).
func openAgents(flags []string) (map[string]builder.SSHSource, func(), error) {
	specs, err := sshagent.ParseSpecs(flags)
	if err != nil {
		return nil, nil, fmt.Errorf("--ssh: %w", err)
	}
	out := map[string]builder.SSHSource{}
	var opened []*sshagent.Source
	closeAll := func() {
		for _, s := range opened {
			s.Close()
		}
	}
	for _, sp := range specs {
		src, err := sshagent.Open(sp, os.Getenv)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("--ssh %s: %w", sp.ID, err)
		}
		opened = append(opened, src)
		out[sp.ID] = src
	}
	return out, closeAll, nil
}

// loadInputs reads the Dockerfile and opens the build context; a fetched or generated
// context goes under tmp, the build's scratch dir.
func (o *buildOptions) loadInputs(ctx context.Context, stdin io.Reader, tmp string, git builder.GitAuth) (*dockerfile.File, *buildcontext.Context, func(), error) {
	cleanup := func() {}
	ctxDir := o.contextPath
	dfPath := o.file
	var dfData []byte
	ref, isGit, err := gitsource.Parse(ctxDir)
	if _, statErr := os.Stat(ctxDir); statErr == nil {
		isGit, err = false, nil // an existing local path is never a Git shorthand
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("build context %s: %w", gitsource.Redact(ctxDir), err)
	}
	if isGit {
		if ctxDir, cleanup, err = fetchContext(ctx, ref, tmp, git); err != nil {
			return nil, nil, nil, err
		}
		if dfPath == "" {
			dfPath = "Dockerfile"
		}
		if !filepath.IsAbs(dfPath) {
			dfPath = filepath.Join(ctxDir, dfPath)
		}
		if dfData, err = os.ReadFile(dfPath); err != nil {
			cleanup()
			return nil, nil, nil, fmt.Errorf("reading Dockerfile from the Git context: %w", err)
		}
	} else if ctxDir == "-" {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("reading Dockerfile from stdin: %w", err)
		}
		if isArchive(data) {
			return nil, nil, nil, fmt.Errorf("build context \"-\": a tar archive on stdin is not supported yet; pass a directory or a Git URL (a Dockerfile on stdin works)")
		}
		dir, err := os.MkdirTemp(tmp, "ctx-")
		if err != nil {
			return nil, nil, nil, err
		}
		cleanup = func() { os.RemoveAll(dir) }
		ctxDir, dfData = dir, data
		if dfPath == "" {
			dfPath = "Dockerfile"
		}
	} else {
		fi, err := os.Stat(ctxDir)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("build context %s: %w", ctxDir, err)
		}
		if !fi.IsDir() {
			return nil, nil, nil, fmt.Errorf("build context %s: not a directory", ctxDir)
		}
		if dfPath == "" {
			dfPath = filepath.Join(ctxDir, "Dockerfile")
		}
		if dfPath == "-" {
			if dfData, err = io.ReadAll(stdin); err != nil {
				return nil, nil, nil, fmt.Errorf("reading Dockerfile from stdin: %w", err)
			}
			dfPath = filepath.Join(ctxDir, "Dockerfile")
		} else if dfData, err = os.ReadFile(dfPath); err != nil {
			return nil, nil, nil, fmt.Errorf("reading Dockerfile: %w", err)
		}
	}
	df, err := dockerfile.Parse(filepath.Base(dfPath), bytes.NewReader(dfData))
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	bctx, err := buildcontext.Open(ctxDir, dfPath)
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	return df, bctx, cleanup, nil
}

// fetchContext fetches a Git build context into a temp dir under tmp.
func fetchContext(ctx context.Context, ref gitsource.Ref, tmp string, git builder.GitAuth) (string, func(), error) {
	parent, err := os.MkdirTemp(tmp, "git-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(parent) }
	if _, err := builder.FetchGit(ctx, ref, filepath.Join(parent, "src"), git); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("build context: %w", err)
	}
	return filepath.Join(parent, "src"), cleanup, nil
}

// isArchive reports a gzip stream or a tar archive (ustar magic at offset 257).
func isArchive(b []byte) bool {
	if len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
		return true
	}
	return len(b) > 262 && string(b[257:262]) == "ustar"
}
