package hushtest

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

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

// FindCanary walks every path (files or directories) and reports each file in which the
// canary appears raw or encoded, also inside gzip-compressed files (layer blobs).
func FindCanary(canary []byte, paths ...string) ([]string, error) {
	return FindCanarySince(canary, time.Time{}, paths...)
}

// FindCanarySince is FindCanary over files modified at or after since (for shared
// directories such as /tmp), skipping files over 256 MiB.
func FindCanarySince(canary []byte, since time.Time, paths ...string) ([]string, error) {
	forms := canaryForms(canary)
	var hits []string
	check := func(name string, data []byte) {
		for _, f := range forms {
			if bytes.Contains(data, f) {
				hits = append(hits, name)
				return
			}
		}
	}
	for _, root := range paths {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) || os.IsPermission(err) {
					return nil
				}
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			if fi, err := d.Info(); err != nil || fi.ModTime().Before(since) || fi.Size() > 256<<20 {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			check(p, data)
			if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
				zr, err := gzip.NewReader(bytes.NewReader(data))
				if err == nil {
					if plain, err := io.ReadAll(zr); err == nil {
						check(p+" (gunzipped)", plain)
					}
				}
			}
			return nil
		})
		if err != nil {
			return hits, fmt.Errorf("searching %s: %w", root, err)
		}
	}
	return hits, nil
}

// NoCanaryInTemp fails t when the canary is in a file under the system temp dir
// written since the test started.
func NoCanaryInTemp(t testing.TB, canary []byte, since time.Time) {
	t.Helper()
	hits, err := FindCanarySince(canary, since, os.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hits {
		t.Errorf("secret canary leaked into %s", h)
	}
}

// NoCanary fails t when the canary is found under any of paths.
func NoCanary(t testing.TB, canary []byte, paths ...string) {
	t.Helper()
	hits, err := FindCanary(canary, paths...)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hits {
		t.Errorf("secret canary leaked into %s", h)
	}
}
