package conformance

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// maxBlob bounds one file read from an archive: the corpus's images are small.
const maxBlob = 256 << 20

// archive is an OCI image layout read from a tar into memory.
type archive map[string][]byte

func readArchive(file string) (archive, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a := archive{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return a, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", file, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if h.Size > maxBlob {
			return nil, fmt.Errorf("reading %s: %s is %d bytes, more than %d", file, h.Name, h.Size, maxBlob)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %s: %w", file, h.Name, err)
		}
		a[path.Clean(strings.TrimPrefix(h.Name, "./"))] = b
	}
}

// blob returns the content of a blob by digest.
func (a archive) blob(d v1.Hash) ([]byte, error) {
	b, ok := a[path.Join("blobs", d.Algorithm, d.Hex)]
	if !ok {
		return nil, fmt.Errorf("blob %s is missing", d)
	}
	return b, nil
}

// image finds the one image manifest of the archive (following nested indexes, skipping
// attestation manifests) and returns it with its config.
func (a archive) image() (*v1.Manifest, *v1.ConfigFile, error) {
	raw, ok := a["index.json"]
	if !ok {
		return nil, nil, errors.New("index.json is missing")
	}
	m, err := a.manifest(raw)
	if err != nil {
		return nil, nil, err
	}
	cb, err := a.blob(m.Config.Digest)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	var cf v1.ConfigFile
	if err := json.Unmarshal(cb, &cf); err != nil {
		return nil, nil, fmt.Errorf("parsing config: %w", err)
	}
	return m, &cf, nil
}

func (a archive) manifest(raw []byte) (*v1.Manifest, error) {
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("parsing index: %w", err)
	}
	var found []v1.Descriptor
	for _, d := range idx.Manifests {
		if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			continue
		}
		found = append(found, d)
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("the index holds %d images, want 1", len(found))
	}
	b, err := a.blob(found[0].Digest)
	if err != nil {
		return nil, err
	}
	if found[0].MediaType.IsIndex() {
		return a.manifest(b)
	}
	var m v1.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parsing manifest: %w", err)
	}
	return &m, nil
}
