package fscopy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/moby/patternmatcher"
)

// digestVersion starts every digest, so that a change of this encoding
// changes every cache key.
const digestVersion = "hush.fscopy.digest.v1\x00"

// Digest is the content digest ("sha256:<hex>") of what Copy would copy from
// src for patterns (and COPY --exclude patterns exclude), for build-cache
// keys. It covers each pattern, the matches it expanded to, and for every
// copied path: its path relative to the match, type, mode (permission, set-id
// and type bits), symlink target, device number and file content (sha256). It
// does not cover mtimes, atimes or owners. File contents are read once, in
// parallel.
func Digest(src Source, patterns []string, exclude ...string) (string, error) {
	if len(patterns) == 0 {
		return "", errors.New("digesting: no source files were specified")
	}
	t, err := openTree(src)
	if err != nil {
		return "", err
	}
	defer t.close()
	var excl *patternmatcher.PatternMatcher
	if len(exclude) > 0 {
		if excl, err = patternmatcher.New(exclude); err != nil {
			return "", fmt.Errorf("parsing exclude patterns: %w", err)
		}
	}
	var recs []record
	for _, p := range patterns {
		recs = append(recs, record{text: "P\x00" + p + "\x00"})
		ms, err := t.expand(p)
		if err != nil {
			return "", fmt.Errorf("digesting: %w", err)
		}
		for _, m := range ms {
			recs = append(recs, record{text: "M\x00" + m.name + "\x00" + m.rel + "\x00"})
			err := t.walk(m, excl, func(e entry) (func() error, error) {
				r, err := entryRecord(e)
				if err != nil {
					return nil, err
				}
				recs = append(recs, r)
				return nil, nil
			})
			if err != nil {
				return "", fmt.Errorf("digesting %q: %w", p, err)
			}
		}
	}
	if err := hashContents(recs, src.Sums); err != nil {
		return "", err
	}
	h := sha256.New()
	io.WriteString(h, digestVersion)
	for _, r := range recs {
		io.WriteString(h, r.text)
		if r.file != "" {
			io.WriteString(h, r.sum+"\x00")
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// record is one unambiguous, NUL-terminated chunk of the digest input. When
// file is set the sha256 of its content follows text.
type record struct {
	text string
	file string
	key  devIno
	stat string // the file's identity and change stamps, for SumCache
	sum  string
}

// SumCache remembers content sums of files by their stat identity (path, device, inode,
// size, mtime and ctime), so an unchanged file is not read again.
type SumCache interface {
	Sum(stat string) (string, bool)
	Put(stat, sum string)
}

// racyWindow: files changed this recently are not cached, as their timestamps could
// still match a later write within the file system's granularity.
const racyWindow = 2 * time.Second

func entryRecord(e entry) (record, error) {
	st, ok := e.info.Sys().(*syscall.Stat_t)
	if !ok {
		return record{}, fmt.Errorf("reading %s: no stat information", e.host)
	}
	var typ, extra string
	mode := e.info.Mode()
	switch {
	case mode.IsDir():
		typ = "dir"
	case mode.IsRegular():
		typ = "file"
	case mode&fs.ModeSymlink != 0:
		typ = "symlink"
		link, err := os.Readlink(e.host)
		if err != nil {
			return record{}, fmt.Errorf("reading symlink: %w", err)
		}
		extra = link
	case mode&(fs.ModeDevice|fs.ModeNamedPipe) != 0:
		typ = "device"
		extra = strconv.FormatUint(uint64(st.Rdev), 10)
	default:
		return record{text: "S\x00" + e.rel + "\x00"}, nil // not copied
	}
	r := record{text: "E\x00" + e.rel + "\x00" + typ + "\x00" + strconv.FormatUint(uint64(st.Mode), 8) + "\x00" + extra + "\x00"}
	if typ == "file" {
		r.file = e.host
		r.key = devIno{dev: uint64(st.Dev), ino: st.Ino}
		mtime := time.Unix(st.Mtim.Unix())
		ctime := time.Unix(st.Ctim.Unix())
		if time.Since(mtime) > racyWindow && time.Since(ctime) > racyWindow {
			r.stat = fmt.Sprintf("%s\x00%d:%d:%d:%d:%d", e.host, st.Dev, st.Ino, st.Size, mtime.UnixNano(), ctime.UnixNano())
		}
	}
	return r, nil
}

// hashContents fills in the content sums of recs, each inode read once (or not at all
// when cache knows it), across GOMAXPROCS workers.
func hashContents(recs []record, cache SumCache) error {
	var idx []int
	first := map[devIno]int{}
	for i, r := range recs {
		if r.file == "" {
			continue
		}
		if _, ok := first[r.key]; !ok {
			first[r.key] = i
			if cache != nil && r.stat != "" {
				if sum, ok := cache.Sum(r.stat); ok {
					recs[i].sum = sum
					continue
				}
			}
			idx = append(idx, i)
		}
	}
	work := make(chan int)
	errs := make([]error, len(recs))
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(idx)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := sha256.New()
			buf := make([]byte, 64<<10)
			for i := range work {
				recs[i].sum, errs[i] = fileSum(h, buf, recs[i].file)
			}
		}()
	}
	for _, i := range idx {
		work <- i
	}
	close(work)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("digesting file contents: %w", err)
	}
	if cache != nil {
		for _, i := range idx {
			if recs[i].stat != "" {
				cache.Put(recs[i].stat, recs[i].sum)
			}
		}
	}
	for i := range recs {
		if recs[i].file != "" {
			recs[i].sum = recs[first[recs[i].key]].sum
		}
	}
	return nil
}

func fileSum(h hash.Hash, buf []byte, name string) (string, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h.Reset()
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{f}, buf); err != nil {
		return "", fmt.Errorf("reading %s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
