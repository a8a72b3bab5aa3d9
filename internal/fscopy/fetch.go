package fscopy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// FetchURL implements ADD <http(s) url> <dest>: it downloads rawURL into
// dest inside dstRoot and returns the content digest ("sha256:<hex>").
// dest is relative to workdir unless absolute. When dest ends in "/" or is an
// existing directory the file is named after the last element of the URL
// path ("__unnamed__" if there is none), else it is dest itself. As in
// BuildKit the file gets mode 0600 (or opts.Chmod), the owner opts.Chown (else
// 0:0), the mtime of a Last-Modified header if there is one, and is never
// extracted. headers (authentication) are sent as given and never appear in
// errors; neither do the URL's user info and query.
func FetchURL(ctx context.Context, rawURL string, headers http.Header, dstRoot, dest, workdir string, opts Options) (string, error) {
	if err := opts.validate(); err != nil {
		return "", err
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("fetching: invalid URL")
	}
	shown := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("fetching %s: unsupported scheme %q", shown, u.Scheme)
	}
	root, err := openRoot(dstRoot)
	if err != nil {
		return "", err
	}
	name := "__unnamed__"
	if base := path.Base(u.Path); base != "." && base != "/" && base != "" {
		name = base
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("fetching %s: building request", shown)
	}
	for k, vs := range headers {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return "", fmt.Errorf("fetching %s: %w", shown, redactURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", fmt.Errorf("fetching %s: unexpected status %s", shown, resp.Status)
	}

	c := &copier{root: root, opts: opts}
	target, err := c.fileTarget(dest, workdir, name)
	if err != nil {
		return "", fmt.Errorf("fetching %s: %w", shown, err)
	}
	sum, err := c.writeDownload(resp.Body, target)
	if err != nil {
		return "", fmt.Errorf("fetching %s: %w", shown, err)
	}
	if lm := resp.Header.Get("Last-Modified"); lm != "" {
		if t, err := http.ParseTime(lm); err == nil {
			ts := []unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
			if err := unix.UtimesNanoAt(unix.AT_FDCWD, target, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return "", fmt.Errorf("fetching %s: setting times: %w", shown, err)
			}
		}
	}
	return sum, nil
}

// redactURLError drops the URL (which may carry credentials) from a client
// error, keeping the cause.
func redactURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// fileTarget is where a single file named name lands for dest: below dest
// when dest is spelled as a directory or is one, else dest itself. Missing
// parents are created.
func (c *copier) fileTarget(dest, workdir, name string) (string, error) {
	destPath, isDir := destination(dest, workdir)
	dst, err := resolveIn(c.root, destPath, true, nil)
	if err != nil {
		return "", err
	}
	if fi, err := os.Lstat(dst.host); isDir || (err == nil && fi.IsDir()) {
		if err := c.ensureDir(dst.rel); err != nil {
			return "", err
		}
		return filepath.Join(dst.host, name), nil
	}
	if err := c.ensureDir(path.Dir("/" + dst.rel)); err != nil {
		return "", err
	}
	return dst.host, nil
}

// writeDownload streams body to a temporary file next to target (inside the
// destination root, never a host temp dir), sets its metadata and renames it
// over target.
func (c *copier) writeDownload(body io.Reader, target string) (sum string, err error) {
	if fi, err := os.Lstat(target); err == nil && fi.IsDir() {
		return "", fmt.Errorf("cannot replace directory %s with a file", c.show(target))
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), ".hush-fetch-*")
	if err != nil {
		return "", fmt.Errorf("creating file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), body); err != nil {
		return "", fmt.Errorf("downloading: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("writing file: %w", err)
	}
	own := c.opts.dirOwner()
	if err := os.Lchown(tmp.Name(), own.UID, own.GID); err != nil {
		return "", fmt.Errorf("setting owner: %w", err)
	}
	mode := uint32(0o600)
	if c.opts.Chmod != nil {
		mode = uint32(*c.opts.Chmod)
	}
	if err := unix.Fchmodat(unix.AT_FDCWD, tmp.Name(), mode, 0); err != nil {
		return "", fmt.Errorf("setting mode: %w", err)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return "", fmt.Errorf("placing file: %w", err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
