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
		return "", fmt.Errorf("decompressing: %w", truncated(err))
	}
	return out.Name(), out.Close()
}

// truncated explains an unexpected EOF: the archive ends in the middle of a member.
func truncated(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("archive is truncated: %w", err)
	}
	return err
}

// archiveMembers reads every member header of the tar at p (which also
// catches a truncated archive before anything is stored) and tells an OCI
// archive (has oci-layout) from a docker archive (has manifest.json).
func archiveMembers(p string) (kind string, members map[string]bool, err error) {
	f, err := os.Open(p)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	members = map[string]bool{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", nil, fmt.Errorf("reading archive: %w", truncated(err))
		}
		members[path.Clean(hdr.Name)] = true
	}
	switch {
	case members[ociLayoutFile]:
		return "oci", members, nil
	case members["manifest.json"]:
		return "docker", members, nil
	}
	return "", nil, errors.New("reading archive: neither a docker archive (manifest.json) nor an OCI archive (oci-layout)")
}

// archiveImage is one image read from an archive, not yet stored.
type archiveImage struct {
	img      v1.Image
	names    []string // normalized
	label    string   // how errors name it: "image 2 of 3 (app:1)"
	layers   []string // how errors name each layer: its path in a docker archive, its digest in an OCI one
	manifest v1.Hash  // the digest an OCI archive names the manifest by; zero for a docker archive
}

func imageLabel(i, n int, names []string) string {
	if len(names) == 0 {
		return fmt.Sprintf("image %d of %d", i+1, n)
	}
	return fmt.Sprintf("image %d of %d (%s)", i+1, n, names[0])
}

// readDocker lists the images of a docker archive, checking that every file
// manifest.json names is in it.
func readDocker(p string, members map[string]bool) ([]archiveImage, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(p) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, fmt.Errorf("reading manifest.json: %w", err)
	}
	out := make([]archiveImage, 0, len(m))
	for i, d := range m {
		label := imageLabel(i, len(m), d.RepoTags)
		names, err := normalizeNames(d.RepoTags)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", label, err)
		}
		for _, f := range append([]string{d.Config}, d.Layers...) {
			if !members[path.Clean(f)] {
				return nil, fmt.Errorf("%s: %s is missing from the archive", label, f)
			}
		}
		var tag *name.Tag
		if len(m) > 1 {
			if len(d.RepoTags) == 0 {
				return nil, fmt.Errorf("%s has no RepoTags; multi-image archives need a tag per image", label)
			}
			t, err := name.NewTag(d.RepoTags[0])
			if err != nil {
				return nil, fmt.Errorf("%s: parsing tag %q: %w", label, d.RepoTags[0], err)
			}
			tag = &t
		}
		img, err := tarball.Image(opener, tag)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", label, err)
		}
		out = append(out, archiveImage{img: img, names: names, label: label, layers: d.Layers})
	}
	return out, nil
}

// normalizeNames normalizes each name, dropping repeats.
func normalizeNames(names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	for _, n := range names {
		norm, err := NormalizeName(n)
		if err != nil {
			return nil, err
		}
		if !contains(out, norm) {
			out = append(out, norm)
		}
	}
	return out, nil
}

// readOCI extracts an OCI archive into dir and lists its images (for an
// index, the host platform's), checking that every blob they need is there.
func readOCI(p, dir string) ([]archiveImage, error) {
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
		}
		if n := ociDescriptorName(d.Annotations); n != "" {
			names[d.Digest] = append(names[d.Digest], n)
		}
	}
	out := make([]archiveImage, 0, len(order))
	for i, dg := range order {
		ai, err := readOCIImage(lp, ii, descs[dg], names[dg])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", imageLabel(i, len(order), names[dg]), err)
		}
		ai.label = imageLabel(i, len(order), names[dg])
		out = append(out, ai)
	}
	return out, nil
}

// readOCIImage opens the image d points at and checks its blobs are in the layout.
func readOCIImage(lp layout.Path, ii v1.ImageIndex, d v1.Descriptor, names []string) (archiveImage, error) {
	norm, err := normalizeNames(names)
	if err != nil {
		return archiveImage{}, err
	}
	img, man, err := imageFor(lp, ii, d)
	if err != nil {
		return archiveImage{}, err
	}
	m, err := img.Manifest()
	if err != nil {
		return archiveImage{}, fmt.Errorf("manifest %s: %w", man, err)
	}
	if err := requireBlob(lp, m.Config.Digest, "config"); err != nil {
		return archiveImage{}, err
	}
	ai := archiveImage{img: img, names: norm, manifest: man}
	for _, l := range m.Layers {
		if err := requireBlob(lp, l.Digest, "layer"); err != nil {
			return archiveImage{}, err
		}
		ai.layers = append(ai.layers, l.Digest.String())
	}
	return ai, nil
}

// requireBlob fails unless the layout has blob d.
func requireBlob(lp layout.Path, d v1.Hash, what string) error {
	fi, err := os.Stat(filepath.Join(string(lp), "blobs", d.Algorithm, d.Hex))
	if err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("%s %s is missing from the archive", what, d)
	}
	return nil
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

// imageFor returns the image a top-level descriptor points at and its
// manifest digest; for an index that is the linux/GOARCH image (attestation
// manifests are skipped).
func imageFor(lp layout.Path, ii v1.ImageIndex, d v1.Descriptor) (v1.Image, v1.Hash, error) {
	if d.MediaType.IsImage() {
		if err := requireBlob(lp, d.Digest, "manifest"); err != nil {
			return nil, v1.Hash{}, err
		}
		img, err := ii.Image(d.Digest)
		if err != nil {
			return nil, v1.Hash{}, fmt.Errorf("reading image %s: %w", d.Digest, err)
		}
		return img, d.Digest, nil
	}
	if !d.MediaType.IsIndex() {
		return nil, v1.Hash{}, fmt.Errorf("reading %s: unsupported media type %q", d.Digest, d.MediaType)
	}
	if err := requireBlob(lp, d.Digest, "index"); err != nil {
		return nil, v1.Hash{}, err
	}
	child, err := ii.ImageIndex(d.Digest)
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("reading index %s: %w", d.Digest, err)
	}
	if err := checkDigest(child.RawManifest, d.Digest, "index"); err != nil {
		return nil, v1.Hash{}, err
	}
	cm, err := child.IndexManifest()
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("reading index %s: %w", d.Digest, err)
	}
	want := hostPlatform()
	var candidates []v1.Descriptor
	for _, c := range cm.Manifests {
		if !c.MediaType.IsImage() || c.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			continue
		}
		if c.Platform != nil && c.Platform.Satisfies(want) {
			return imageFor(lp, child, c)
		}
		if c.Platform == nil {
			candidates = append(candidates, c)
		}
	}
	if len(candidates) == 1 {
		return imageFor(lp, child, candidates[0])
	}
	return nil, v1.Hash{}, fmt.Errorf("reading index %s: no image for %s", d.Digest, want)
}

// checkDigest fails unless the bytes raw returns have digest want.
func checkDigest(raw func() ([]byte, error), want v1.Hash, what string) error {
	b, err := raw()
	if err != nil {
		return fmt.Errorf("reading %s %s: %w", what, want, err)
	}
	if got, _, err := v1.SHA256(bytes.NewReader(b)); err != nil || got != want {
		return fmt.Errorf("%s %s: content has digest %s", what, want, got)
	}
	return nil
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
