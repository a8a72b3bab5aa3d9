package fscopy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/hush-build/hush/internal/fsroot"
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
	// Beside the root, not in it: nothing of the download may land in the layer.
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(dstRoot)), ".hush-download-")
	if err != nil {
		return "", fmt.Errorf("fetching: %w", err)
	}
	defer os.RemoveAll(tmp)
	d, err := Download(ctx, rawURL, headers, tmp)
	if err != nil {
		return "", err
	}
	if err := d.Place(dstRoot, dest, workdir, opts); err != nil {
		return "", err
	}
	return d.Sum, nil
}

// Downloaded is a URL fetched once into a local file, to be placed (possibly later, after
// a cache lookup on Sum) with Place.
type Downloaded struct {
	// Sum is the content digest, "sha256:<hex>".
	Sum string
	// Name is the file name ADD gives it below a directory dest.
	Name    string
	path    string
	modTime *time.Time
	shown   string
}

// Download fetches rawURL into a new file in dir. headers (authentication) are sent as
// given and never appear in errors; neither do the URL's user info and query.
func Download(ctx context.Context, rawURL string, headers http.Header, dir string) (*Downloaded, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("fetching: invalid URL")
	}
	d := &Downloaded{Name: "__unnamed__", shown: (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("fetching %s: unsupported scheme %q", d.shown, u.Scheme)
	}
	if base := path.Base(u.Path); base != "." && base != "/" && base != "" {
		d.Name = base
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: building request", d.shown)
	}
	for k, vs := range headers {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	client := &http.Client{CheckRedirect: func(next *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return fmt.Errorf("stopped after 10 redirects")
		}
		if via[0].URL.Scheme == "https" && next.URL.Scheme != "https" {
			return fmt.Errorf("refusing a redirect from https to %s", next.URL.Scheme)
		}
		return nil
	}}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", d.shown, redactURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("fetching %s: unexpected status %s", d.shown, resp.Status)
	}
	f, err := os.CreateTemp(dir, "download-*")
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", d.shown, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), resp.Body); err != nil {
		return nil, fmt.Errorf("fetching %s: downloading: %w", d.shown, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("fetching %s: %w", d.shown, err)
	}
	d.path, d.Sum = f.Name(), "sha256:"+hex.EncodeToString(h.Sum(nil))
	if lm := resp.Header.Get("Last-Modified"); lm != "" {
		if t, err := http.ParseTime(lm); err == nil {
			d.modTime = &t
		}
	}
	return d, nil
}

// Place writes the download into dest inside dstRoot, as ADD does: dest is relative to
// workdir unless absolute; when dest ends in "/" or is an existing directory the file is
// named Name below it, else it is dest itself. The file gets mode 0600 (or opts.Chmod),
// the owner opts.Chown (else 0:0), the Last-Modified time if the server sent one, and is
// never extracted.
func (d *Downloaded) Place(dstRoot, dest, workdir string, opts Options) error {
	if err := opts.validate(); err != nil {
		return err
	}
	root, err := openRoot(dstRoot)
	if err != nil {
		return err
	}
	src, err := os.Open(d.path)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", d.shown, err)
	}
	defer src.Close()
	defer root.Close()
	c := newCopier(root, opts)
	target, err := c.fileTarget(dest, workdir, d.Name)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", d.shown, err)
	}
	if _, err := c.writeDownload(src, target); err != nil {
		return fmt.Errorf("fetching %s: %w", d.shown, err)
	}
	if d.modTime != nil {
		t := *d.modTime
		if err := c.root.Chtimes(target, t, t); err != nil {
			return fmt.Errorf("fetching %s: setting times: %w", d.shown, err)
		}
	}
	return nil
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
	destPath, err := c.root.Resolve(destPath)
	if err != nil {
		return "", err
	}
	if fi, err := c.root.Lstat(destPath); isDir || (err == nil && fi.IsDir()) {
		return path.Join(destPath, name), c.ensureDir(destPath)
	}
	return destPath, c.ensureDir(path.Dir(destPath))
}

// writeDownload streams body to a temporary file next to target (inside the
// destination root, never a host temp dir), sets its metadata and renames it
// over target.
func (c *copier) writeDownload(body io.Reader, target string) (sum string, err error) {
	if fi, err := c.root.Lstat(target); err == nil && fi.IsDir() {
		return "", fmt.Errorf("cannot replace directory %s with a file", show(target))
	}
	tmpName := path.Join(path.Dir(target), ".hush-fetch-"+randomSuffix())
	tmp, err := c.root.OpenFile(tmpName, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return "", fmt.Errorf("creating file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = c.root.Remove(tmpName)
		}
	}()
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(tmp, h), body)
	if err == nil {
		own := c.opts.dirOwner()
		err = tmp.Chown(own.UID, own.GID)
	}
	if err == nil {
		mode := os.FileMode(0o600)
		if c.opts.Chmod != nil {
			mode = fsroot.FileMode(uint32(*c.opts.Chmod))
		}
		err = tmp.Chmod(mode)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("writing file: %w", err)
	}
	if err := c.root.Rename(tmpName, target); err != nil {
		return "", fmt.Errorf("placing file: %w", err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func randomSuffix() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
