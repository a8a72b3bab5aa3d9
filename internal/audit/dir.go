package audit

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/hush-build/hush/internal/fsroot"
	"golang.org/x/sys/unix"
)

// ScanDir searches every file under root (hush's store, cache and temp directories) for
// the secrets: names, symlink targets, and contents, gzip and zstd files decompressed
// (tar entries named when the content is a tar, as layer blobs are). Symlinks are not
// followed. Report.Target is root.
func ScanDir(ctx context.Context, root string, secrets map[string][]byte, opts Options) (*Report, error) {
	start := time.Now()
	m, done, err := matcherFor(secrets, opts)
	if err != nil {
		return nil, err
	}
	defer done()
	r := newReport(m, opts, root)
	files, err := m.listTree(root, r)
	if err != nil {
		return nil, fmt.Errorf("auditing %s: %w", root, err)
	}
	dir, err := fsroot.Open(root)
	if err != nil {
		return nil, fmt.Errorf("auditing %s: %w", root, err)
	}
	defer dir.Close()
	results, errs := m.scanFiles(ctx, dir, files, opts)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("auditing %s: %w", root, err)
	}
	for i, res := range results {
		if errs[i] != nil {
			return nil, fmt.Errorf("auditing %s: %w", filepath.Join(root, files[i]), errs[i])
		}
		r.Stats.Files++
		r.Stats.Bytes += res.bytes
		r.addFindings(res.findings)
	}
	r.sortFindings(nil)
	r.Stats.DurationMS = time.Since(start).Milliseconds()
	return r, nil
}

// listTree walks root, adds to r the findings in entry names and symlink targets, and
// returns the regular files (relative to root) whose contents are still to search. An
// entry removed while it walks (another build's cache mount, a prune) is skipped: it is no
// longer on disk to search.
func (m *matcher) listTree(root string, r *Report) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p != root {
			return nil
		}
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		for _, h := range m.scanBytes([]byte(rel)) {
			r.addFindings([]Finding{m.finding(h, Location{Kind: KindFile, Path: rel, Field: "name", Offset: h.start})})
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			for _, h := range m.scanBytes([]byte(target)) {
				r.addFindings([]Finding{m.finding(h, Location{Kind: KindFile, Path: rel, Field: "link", Offset: h.start})})
			}
		case d.Type().IsRegular():
			files = append(files, rel)
		}
		return nil
	})
	return files, err
}

// scanFiles searches the files of dir on opts' workers, each result and error at its
// file's index; it stops handing out files when ctx is done.
func (m *matcher) scanFiles(ctx context.Context, dir *fsroot.Root, files []string, opts Options) ([]*layerResult, []error) {
	results := make([]*layerResult, len(files))
	errs := make([]error, len(files))
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < opts.workers(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				results[i], errs[i] = m.scanFile(ctx, dir, files[i], opts)
			}
		}()
	}
	for i := range files {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	return results, errs
}

// scanFile searches one file of the tree, opened inside it without following a symlink
// nor blocking: a build sharing a cache mount may have swapped the file listed for a link
// to a host file, a FIFO or a device meanwhile; such an entry is skipped.
func (m *matcher) scanFile(ctx context.Context, dir *fsroot.Root, rel string, opts Options) (*layerResult, error) {
	f, err := dir.OpenFile(rel, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if errors.Is(err, unix.ELOOP) || errors.Is(err, os.ErrNotExist) {
		return &layerResult{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return &layerResult{}, nil
	}
	res, err := m.scanTar(ctx, f, opts.bufSize, Location{Kind: KindFile, Path: rel})
	if err != nil {
		return nil, err
	}
	res.warnings = nil // a file that is not a tar is expected here
	sort.SliceStable(res.findings, func(i, j int) bool { return res.findings[i].Location.Offset < res.findings[j].Location.Offset })
	return res, nil
}
