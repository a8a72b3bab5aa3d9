package image

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hush-build/hush/internal/outfile"
)

// sinkDescriptors are the index.json entries for c under names, the way BuildKit writes
// them: c's descriptor (with its descriptor annotations), ref.name the tag (what umoci and
// skopeo's oci:DIR:TAG expect), io.containerd.image.name the full name. No names gives one
// descriptor without name annotations.
func sinkDescriptors(c *Composed, names []string) ([]v1.Descriptor, error) {
	base := c.Descriptor
	if len(names) == 0 {
		return []v1.Descriptor{base}, nil
	}
	var out []v1.Descriptor
	seen := map[string]bool{}
	for _, n := range names {
		norm, err := NormalizeName(n)
		if err != nil {
			return nil, err
		}
		if seen[norm] {
			continue
		}
		seen[norm] = true
		_, obj := splitName(norm)
		desc := base
		desc.Annotations = maps.Clone(base.Annotations)
		if desc.Annotations == nil {
			desc.Annotations = map[string]string{}
		}
		desc.Annotations[AnnotationRefName], desc.Annotations[AnnotationImageName] = obj, norm
		out = append(out, desc)
	}
	return out, nil
}

// WriteOCILayout writes c as an OCI image layout directory at dir, one
// index.json descriptor per name. The layout is built under a temp name
// beside dir and renamed into place; an existing layout at dir is replaced,
// any other non-empty dir is refused. A dir given as a symlink is followed.
func WriteOCILayout(c *Composed, dir string, names []string) error {
	descs, err := sinkDescriptors(c, names)
	if err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	dir, err = outputDir(dir)
	if err != nil {
		return fmt.Errorf("writing OCI layout: %w", err)
	}
	if err := checkReplaceableDir(dir); err != nil {
		return fmt.Errorf("writing OCI layout: %w", err)
	}
	tmp, release, err := outfile.TempDir(dir)
	if err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	defer release()
	defer os.RemoveAll(tmp)
	if err := fillLayout(tmp, c, descs); err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	if err := replaceDir(tmp, dir); err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	return nil
}

// outputDir cleans a destination directory, follows it when it is a symlink
// and refuses the root directory.
func outputDir(dir string) (string, error) {
	dir, err := outfile.FollowDir(filepath.Clean(dir))
	if err != nil {
		return "", err
	}
	if outfile.IsRoot(dir) {
		return "", fmt.Errorf("%s is the root directory, refusing to write there", dir)
	}
	return dir, nil
}

// fillLayout writes the layout files into the empty dir tmp.
func fillLayout(tmp string, c *Composed, descs []v1.Descriptor) error {
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return err
	}
	if c.Index != nil {
		err = p.WriteIndex(c.Index)
	} else {
		err = p.WriteImage(c.Image)
	}
	if err != nil {
		return err
	}
	idx := &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: descs}
	rawIdx, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	if err := p.WriteFile("index.json", rawIdx, 0o644); err != nil {
		return err
	}
	return os.Chmod(tmp, 0o755)
}

// checkReplaceableDir refuses to replace a non-empty directory that is not an
// OCI layout, so a typo cannot wipe unrelated files.
func checkReplaceableDir(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("checking %s: exists and is not a directory", dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("checking %s: %w", dir, err)
	}
	if len(ents) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, ociLayoutFile)); err != nil {
		return fmt.Errorf("checking %s: not empty and not an OCI layout, refusing to replace it", dir)
	}
	return nil
}

// replaceDir moves the finished directory tmp to dir. An existing dir is
// first moved aside into a temp dir, then removed, so dir never holds a
// partial result.
func replaceDir(tmp, dir string) error {
	if err := os.Rename(tmp, dir); err == nil {
		return nil
	}
	aside, release, err := outfile.TempDir(dir)
	if err != nil {
		return fmt.Errorf("replacing %s: %w", dir, err)
	}
	defer release()
	defer os.RemoveAll(aside)
	old := filepath.Join(aside, "old")
	if err := os.Rename(dir, old); err != nil {
		return fmt.Errorf("replacing %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.Rename(old, dir)
		return fmt.Errorf("replacing %s: %w", dir, err)
	}
	if err := os.RemoveAll(aside); err != nil {
		return fmt.Errorf("removing old %s: %w", dir, err)
	}
	return nil
}

// WriteOCIArchive writes c as a tar of an OCI image layout (what
// `docker buildx build --output type=oci,dest=x.tar` produces) to the file
// path, through outfile.Write.
func WriteOCIArchive(c *Composed, path string, names []string) error {
	err := outfile.Write(path, 0o644, func(w io.Writer) error { return ociArchive(w, c, names) })
	if err != nil {
		return fmt.Errorf("writing OCI archive %s: %w", path, err)
	}
	return nil
}

// StreamOCIArchive writes the archive of WriteOCIArchive to w (stdout for
// dest=-).
func StreamOCIArchive(w io.Writer, c *Composed, names []string) error {
	if err := ociArchive(w, c, names); err != nil {
		return fmt.Errorf("writing OCI archive: %w", err)
	}
	return nil
}

func ociArchive(w io.Writer, c *Composed, names []string) error {
	descs, err := sinkDescriptors(c, names)
	if err != nil {
		return err
	}
	return writeOCITar(w, c, descs)
}

func writeOCITar(w io.Writer, c *Composed, descs []v1.Descriptor) error {
	tw := tar.NewWriter(w)
	epoch := time.Unix(0, 0)
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	if err := tarBlob(tw, ociLayoutFile, []byte(ociLayoutContent), epoch); err != nil {
		return err
	}
	idx, err := json.Marshal(&v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: descs})
	if err != nil {
		return err
	}
	if err := tarBlob(tw, indexFile, idx, epoch); err != nil {
		return err
	}
	written := map[v1.Hash]bool{}
	if c.Index != nil {
		err = writeIndexEntries(tw, c.Index, written, epoch)
	} else {
		err = writeImageEntries(tw, c.Image, written, epoch)
	}
	if err != nil {
		return err
	}
	return tw.Close()
}

func tarBlob(tw *tar.Writer, name string, b []byte, mtime time.Time) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: mtime, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}

// writeBlobEntry writes a small blob (manifest, config, index) once.
func writeBlobEntry(tw *tar.Writer, raw []byte, written map[v1.Hash]bool, mtime time.Time) error {
	d, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	if written[d] {
		return nil
	}
	written[d] = true
	return tarBlob(tw, "blobs/sha256/"+d.Hex, raw, mtime)
}

// writeIndexEntries writes an index's blob and every manifest it names, recursively.
func writeIndexEntries(tw *tar.Writer, idx v1.ImageIndex, written map[v1.Hash]bool, mtime time.Time) error {
	raw, err := idx.RawManifest()
	if err != nil {
		return fmt.Errorf("reading index: %w", err)
	}
	if err := writeBlobEntry(tw, raw, written, mtime); err != nil {
		return err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("reading index: %w", err)
	}
	for _, d := range m.Manifests {
		if d.MediaType.IsIndex() {
			child, err := idx.ImageIndex(d.Digest)
			if err == nil {
				err = writeIndexEntries(tw, child, written, mtime)
			}
			if err != nil {
				return err
			}
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return fmt.Errorf("reading manifest %s: %w", d.Digest, err)
		}
		if err := writeImageEntries(tw, img, written, mtime); err != nil {
			return err
		}
	}
	return nil
}

// writeImageEntries writes an image's manifest, config and layers.
func writeImageEntries(tw *tar.Writer, img v1.Image, written map[v1.Hash]bool, mtime time.Time) error {
	rawMan, err := img.RawManifest()
	if err != nil {
		return fmt.Errorf("reading manifest: %w", err)
	}
	if err := writeBlobEntry(tw, rawMan, written, mtime); err != nil {
		return err
	}
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	if err := writeBlobEntry(tw, rawCfg, written, mtime); err != nil {
		return err
	}
	m, err := img.Manifest()
	if err != nil {
		return fmt.Errorf("reading manifest: %w", err)
	}
	for _, ld := range m.Layers {
		if written[ld.Digest] {
			continue
		}
		written[ld.Digest] = true
		if err := writeLayerEntry(tw, img, ld, mtime); err != nil {
			return err
		}
	}
	return nil
}

// writeLayerEntry copies one layer blob into the tar, checking its digest.
func writeLayerEntry(tw *tar.Writer, img v1.Image, ld v1.Descriptor, mtime time.Time) error {
	l, err := img.LayerByDigest(ld.Digest)
	if err != nil {
		return fmt.Errorf("reading layer %s: %w", ld.Digest, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("reading layer %s: %w", ld.Digest, err)
	}
	defer rc.Close()
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: "blobs/sha256/" + ld.Digest.Hex, Mode: 0o644, Size: ld.Size, ModTime: mtime, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tw, h), rc)
	if err != nil {
		return fmt.Errorf("copying layer %s: %w", ld.Digest, err)
	}
	got := v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", h.Sum(nil))}
	if n != ld.Size || got != ld.Digest {
		return fmt.Errorf("copying layer %s: got %d bytes with digest %s, want %d bytes", ld.Digest, n, got, ld.Size)
	}
	return nil
}

// WriteDockerArchive writes img in `docker save` format (`docker load -i`
// reads it) to the file path, tagged with names (digest names are skipped:
// the format has only tags). With no names the image loads as <none>.
func WriteDockerArchive(img v1.Image, path string, names []string) error {
	err := outfile.Write(path, 0o644, func(w io.Writer) error { return dockerArchive(w, img, names) })
	if err != nil {
		return fmt.Errorf("writing docker archive %s: %w", path, err)
	}
	return nil
}

// StreamDockerArchive writes the archive of WriteDockerArchive to w (stdout
// for dest=-).
func StreamDockerArchive(w io.Writer, img v1.Image, names []string) error {
	if err := dockerArchive(w, img, names); err != nil {
		return fmt.Errorf("writing docker archive: %w", err)
	}
	return nil
}

func dockerArchive(w io.Writer, img v1.Image, names []string) error {
	refs := map[name.Reference]v1.Image{}
	for _, n := range names {
		norm, err := NormalizeName(n)
		if err != nil {
			return err
		}
		if _, obj := splitName(norm); len(obj) > 7 && obj[:7] == "sha256:" {
			continue
		}
		tag, err := name.NewTag(FamiliarName(norm))
		if err != nil {
			return err
		}
		refs[tag] = img
	}
	if len(refs) == 0 {
		d, err := img.Digest()
		if err != nil {
			return err
		}
		ref, err := name.NewDigest("unnamed@" + d.String())
		if err != nil {
			return err
		}
		refs[ref] = img
	}
	return tarball.MultiRefWrite(refs, w)
}
