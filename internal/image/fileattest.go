package image

import (
	"archive/tar"
	"encoding/hex"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/provenance"
)

// fileDigests collects the sha256 of a filesystem output's regular files (hard links
// share their target's), the subjects of its attestations.
type fileDigests map[string]v1.Hash

// statements are the attestation files of a filesystem output, by name, as BuildKit's
// local exporter writes them: each attestation's statement about every regular file.
func (f fileDigests) statements(atts []Attestation) (map[string][]byte, error) {
	names := make([]string, 0, len(f))
	for n := range f {
		names = append(names, n)
	}
	sort.Strings(names)
	subjects := make([]provenance.Subject, 0, len(names))
	for _, n := range names {
		subjects = append(subjects, provenance.FileSubject(n, f[n]))
	}
	out := map[string][]byte{}
	for _, a := range atts {
		name := path.Base(a.Path)
		if _, dup := out[name]; dup || name == "." || name == "/" {
			return nil, fmt.Errorf("attestation file %q: duplicate or empty name", a.Path)
		}
		st, err := provenance.FilesStatement(a.PredicateType, a.Predicate, subjects)
		if err != nil {
			return nil, fmt.Errorf("writing attestation %s: %w", name, err)
		}
		out[name] = st
	}
	return out, nil
}

// add records a regular file's content digest from its sha256 state.
func (f fileDigests) add(name string, h hash.Hash) {
	f[name] = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

// appendAttestations writes the attestation files at the end of a rootfs tar, in dir.
func appendAttestations(tw *tar.Writer, files fileDigests, atts []Attestation, dir string) error {
	sts, err := files.statements(atts)
	if err != nil {
		return err
	}
	for _, name := range sortedKeys(sts) {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: path.Join(dir, name), Mode: 0o600, Size: int64(len(sts[name])), ModTime: time.Now()}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
		if _, err := tw.Write(sts[name]); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return nil
}

// writeDirAttestations hashes the regular files under dir and writes the attestation
// files into it.
func writeDirAttestations(dir string, atts []Attestation) error {
	files := fileDigests{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		fh, err := os.Open(p)
		if err != nil {
			return err
		}
		defer fh.Close()
		h, _, err := v1.SHA256(fh)
		files[filepath.ToSlash(rel)] = h
		return err
	})
	if err != nil {
		return fmt.Errorf("hashing output files: %w", err)
	}
	sts, err := files.statements(atts)
	if err != nil {
		return err
	}
	for name, st := range sts {
		if err := os.WriteFile(filepath.Join(dir, name), st, 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return nil
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
