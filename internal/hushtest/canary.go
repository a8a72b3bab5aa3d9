package hushtest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// chunkSize is how much of a file FindCanary holds in memory at once.
const chunkSize = 1 << 20

// canaryForms are the encodings a leaked canary is searched in: raw, base64 (std and URL,
// at each of the 3 byte alignments) and hex.
func canaryForms(canary []byte) [][]byte {
	forms := [][]byte{canary, []byte(hex.EncodeToString(canary))}
	for shift := 0; shift < 3; shift++ {
		pad := append(bytes.Repeat([]byte{'x'}, shift), canary...)
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			s := enc.EncodeToString(pad)
			// Drop the characters that depend on the prefix and on what follows.
			start := (shift*8 + 5) / 6
			end := len(s) - 4
			if end > start+4 {
				forms = append(forms, []byte(s[start+1:end]))
			}
		}
	}
	return forms
}

// scanner searches streams for any of a canary's forms holding one bounded buffer: each
// chunk is searched together with the tail of the previous one (one byte shorter than the
// longest form), so a form split across a chunk boundary is still found.
type scanner struct {
	forms   [][]byte
	buf     []byte
	overlap int
	zr      *gzip.Reader
}

func newScanner(canary []byte, chunk int) *scanner {
	s := &scanner{forms: canaryForms(canary)}
	for _, f := range s.forms {
		s.overlap = max(s.overlap, len(f)-1)
	}
	s.buf = make([]byte, s.overlap+chunk)
	return s
}

// contains reports whether any form appears in what r yields.
func (s *scanner) contains(r io.Reader) (bool, error) {
	carry := 0
	for {
		n, err := io.ReadFull(r, s.buf[carry:])
		data := s.buf[:carry+n]
		for _, f := range s.forms {
			if bytes.Contains(data, f) {
				return true, nil
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		carry = min(s.overlap, len(data))
		copy(s.buf, data[len(data)-carry:])
	}
}

// file reports where in the file at p the canary is: p itself, p+" (gunzipped)" for a
// gzip stream (a layer blob) holding it, or "" when it is in neither.
func (s *scanner) file(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if found, err := s.contains(f); err != nil || found {
		return p, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	br := bufio.NewReader(f)
	if magic, err := br.Peek(2); err != nil || magic[0] != 0x1f || magic[1] != 0x8b {
		return "", nil
	}
	if s.zr == nil {
		s.zr = new(gzip.Reader)
	}
	if err := s.zr.Reset(br); err != nil {
		return "", nil // gzip magic, but no gzip stream
	}
	// A corrupt or truncated stream is searched as far as it decompresses.
	if found, _ := s.contains(s.zr); found {
		return p + " (gunzipped)", nil
	}
	return "", nil
}

// FindCanary walks every path (files or directories) and reports each regular file in
// which the canary appears raw or encoded, also inside gzip-compressed files (layer
// blobs). It streams through files, so a big file costs a bounded buffer, not its size.
// Paths that do not exist, and files removed during the walk, are skipped.
func FindCanary(canary []byte, paths ...string) ([]string, error) {
	return findCanary(newScanner(canary, chunkSize), paths)
}

func findCanary(s *scanner, paths []string) ([]string, error) {
	var hits []string
	for _, root := range paths {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			hit, err := s.file(p)
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if hit != "" {
				hits = append(hits, hit)
			}
			return err
		})
		if err != nil {
			return hits, fmt.Errorf("searching %s for the canary: %w", root, err)
		}
	}
	return hits, nil
}

// NoCanary fails t when the canary is found under any of paths.
func NoCanary(t testing.TB, canary []byte, paths ...string) {
	t.Helper()
	hits, err := FindCanary(canary, paths...)
	reportLeaks(t, hits, err)
}

// reportLeaks fails t for each hit of a canary search, or for its error.
func reportLeaks(t testing.TB, hits []string, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hits {
		t.Errorf("secret canary leaked into %s", h)
	}
}
