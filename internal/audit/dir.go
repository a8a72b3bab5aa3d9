package audit

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// ScanDir searches every file under root (hush's store, cache and temp directories) for
// the secrets: names, symlink targets, and contents, gzip and zstd files decompressed
// (tar entries named when the content is a tar, as layer blobs are). Symlinks are not
// followed. Report.Target is root.
func ScanDir(ctx context.Context, root string, secrets map[string][]byte, opts Options) (*Report, error) {
	start := time.Now()
	m, err := newMatcher(secrets, opts)
	if err != nil {
		return nil, err
	}
	r := newReport(m, opts, root)
	var files []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
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
	if err != nil {
		return nil, fmt.Errorf("auditing %s: %w", root, err)
	}
	results := make([]*layerResult, len(files))
	errs := make([]error, len(files))
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < opts.workers(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				results[i], errs[i] = m.scanFile(ctx, root, files[i], opts)
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

func (m *matcher) scanFile(ctx context.Context, root, rel string, opts Options) (*layerResult, error) {
	f, err := os.Open(filepath.Join(root, rel))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	res, err := m.scanTar(ctx, f, opts.bufSize, Location{Kind: KindFile, Path: rel})
	if err != nil {
		return nil, err
	}
	res.warnings = nil // a file that is not a tar is expected here
	sort.SliceStable(res.findings, func(i, j int) bool { return res.findings[i].Location.Offset < res.findings[j].Location.Offset })
	return res, nil
}
