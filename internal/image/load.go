package image

import (
	"github.com/hush-build/hush/internal/fsroot"
	extract "github.com/hush-build/hush/internal/untar"

	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// decompress wraps r so it yields the plain tar whether r is a tar or a
// gzip, zstd or bzip2 compressed tar.
func decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(6)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("reading archive header: %w", err)
	}
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("opening gzip stream: %w", err)
		}
		return zr, func() { zr.Close() }, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("opening zstd stream: %w", err)
		}
		return zr, zr.Close, nil
	case bytes.HasPrefix(magic, []byte("BZh")):
		return bzip2.NewReader(br), func() {}, nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		return nil, nil, errors.New("opening archive: xz compression is not supported, decompress it first")
	}
	return br, func() {}, nil
}

// Load reads a docker archive (`docker save`, tarball.Write) or an OCI
// archive (a tar of an OCI layout) from path, optionally gzip/zstd/bzip2
// compressed, and stores every image in it. It returns the normalized names
// loaded; an image without a name is reported by its ID.
func (s *Store) Load(archive string) ([]string, error) {
	tmp, err := os.MkdirTemp(s.tmpDir(), "load-*")
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", archive, err)
	}
	defer os.RemoveAll(tmp)
	plain, err := s.plainArchive(archive, tmp)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", archive, err)
	}
	kind, err := archiveKind(plain)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", archive, err)
	}
	var loaded []string
	switch kind {
	case "oci":
		loaded, err = s.loadOCI(plain, filepath.Join(tmp, "layout"))
	default:
		loaded, err = s.loadDocker(plain)
	}
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", archive, err)
	}
	return loaded, nil
}

// plainArchive returns a path to the uncompressed archive, decompressing a
// compressed one into tmp (tarball needs to reopen the file).
func (s *Store) plainArchive(archive, tmp string) (string, error) {
	f, err := os.Open(archive)
	if err != nil {
		return "", err
	}
	defer f.Close()
	r, done, err := decompress(f)
	if err != nil {
		return "", err
	}
	defer done()
	if _, ok := r.(*bufio.Reader); ok {
		return archive, nil
	}
	out, err := os.Create(filepath.Join(tmp, "archive.tar"))
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return "", fmt.Errorf("decompressing: %w", err)
	}
	return out.Name(), out.Close()
}

// archiveKind tells an OCI archive (has oci-layout) from a docker archive
// (has manifest.json).
func archiveKind(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	docker := false
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("reading archive: %w", err)
		}
		switch path.Clean(hdr.Name) {
		case ociLayoutFile:
			return "oci", nil
		case "manifest.json":
			docker = true
		}
	}
	if docker {
		return "docker", nil
	}
	return "", errors.New("reading archive: neither a docker archive (manifest.json) nor an OCI archive (oci-layout)")
}

func (s *Store) loadDocker(p string) ([]string, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(p) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, fmt.Errorf("reading manifest.json: %w", err)
	}
	var loaded []string
	for i, d := range m {
		var tag *name.Tag
		if len(m) > 1 {
			if len(d.RepoTags) == 0 {
				return loaded, fmt.Errorf("image %d of %d has no RepoTags; multi-image archives need a tag per image", i+1, len(m))
			}
			t, err := name.NewTag(d.RepoTags[0])
			if err != nil {
				return loaded, fmt.Errorf("parsing tag %q: %w", d.RepoTags[0], err)
			}
			tag = &t
		}
		img, err := tarball.Image(opener, tag)
		if err != nil {
			return loaded, fmt.Errorf("reading image %d: %w", i+1, err)
		}
		names, err := s.putLoaded(img, d.RepoTags)
		if err != nil {
			return loaded, err
		}
		loaded = append(loaded, names...)
	}
	return loaded, nil
}

// putLoaded stores img under names and reports them (or its ID when unnamed).
func (s *Store) putLoaded(img v1.Image, names []string) ([]string, error) {
	e, err := s.Put(img, names...)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return []string{e.ID.String()}, nil
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		norm, err := NormalizeName(n)
		if err != nil {
			return nil, err
		}
		out = append(out, norm)
	}
	return out, nil
}

func (s *Store) loadOCI(p, dir string) ([]string, error) {
	if err := extractLayout(p, dir); err != nil {
		return nil, err
	}
	lp, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("opening OCI layout: %w", err)
	}
	ii, err := lp.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("opening OCI index: %w", err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading OCI index: %w", err)
	}
	// Several descriptors may name the same manifest: group names by digest.
	var order []v1.Hash
	names := map[v1.Hash][]string{}
	descs := map[v1.Hash]v1.Descriptor{}
	for _, d := range im.Manifests {
		if _, ok := descs[d.Digest]; !ok {
			order = append(order, d.Digest)
			descs[d.Digest] = d
			names[d.Digest] = nil
		}
		if n := ociDescriptorName(d.Annotations); n != "" {
			names[d.Digest] = append(names[d.Digest], n)
		}
	}
	var loaded []string
	for _, dg := range order {
		img, err := imageFor(ii, descs[dg])
		if err != nil {
			return loaded, err
		}
		n, err := s.putLoaded(img, names[dg])
		if err != nil {
			return loaded, err
		}
		loaded = append(loaded, n...)
	}
	return loaded, nil
}

// ociDescriptorName is the image name an OCI index descriptor carries:
// containerd's full name, else ref.name when it is more than a bare tag.
func ociDescriptorName(ann map[string]string) string {
	if n := ann[AnnotationImageName]; n != "" {
		return n
	}
	n := ann[AnnotationRefName]
	if strings.ContainsAny(n, "/:@") && !strings.HasPrefix(n, "sha256:") {
		return n
	}
	return ""
}

// imageFor returns the image a top-level descriptor points at; for an index
// that is the linux/GOARCH image (attestation manifests are skipped).
func imageFor(ii v1.ImageIndex, d v1.Descriptor) (v1.Image, error) {
	if d.MediaType.IsImage() {
		img, err := ii.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading image %s: %w", d.Digest, err)
		}
		return img, nil
	}
	if !d.MediaType.IsIndex() {
		return nil, fmt.Errorf("reading %s: unsupported media type %q", d.Digest, d.MediaType)
	}
	child, err := ii.ImageIndex(d.Digest)
	if err != nil {
		return nil, fmt.Errorf("reading index %s: %w", d.Digest, err)
	}
	cm, err := child.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index %s: %w", d.Digest, err)
	}
	want := hostPlatform()
	var candidates []v1.Descriptor
	for _, c := range cm.Manifests {
		if !c.MediaType.IsImage() || c.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			continue
		}
		if c.Platform != nil && c.Platform.Satisfies(want) {
			return imageFor(child, c)
		}
		if c.Platform == nil {
			candidates = append(candidates, c)
		}
	}
	if len(candidates) == 1 {
		return imageFor(child, candidates[0])
	}
	return nil, fmt.Errorf("reading index %s: no image for %s", d.Digest, want)
}

func hostPlatform() v1.Platform {
	return v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
}

// extractLayout unpacks an OCI archive into dir with hush's one extractor (every name
// resolved inside dir).
func extractLayout(p, dir string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root, err := fsroot.Open(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := extract.Extract(f, root, extract.Options{ForHost: true}); err != nil {
		return fmt.Errorf("reading OCI archive: %w", err)
	}
	return nil
}
