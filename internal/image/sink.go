package image

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// sinkDescriptors are the index.json entries for img under names, the way
// BuildKit writes them: ref.name is the tag (what umoci and skopeo's
// oci:DIR:TAG expect), io.containerd.image.name the full name. No names
// gives one unannotated descriptor.
func sinkDescriptors(img v1.Image, names []string) ([]v1.Descriptor, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	d, size, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("hashing manifest: %w", err)
	}
	base := v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: size, Digest: d}
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
		desc.Annotations = map[string]string{AnnotationRefName: obj, AnnotationImageName: norm}
		out = append(out, desc)
	}
	return out, nil
}

// WriteOCILayout writes img as an OCI image layout directory at dir, one
// index.json descriptor per name. The layout is built under a temp name
// beside dir and renamed into place; an existing layout at dir is replaced,
// any other non-empty dir is refused. A dir given as a symlink is followed.
func WriteOCILayout(img v1.Image, dir string, names []string) error {
	oimg, err := toOCI(img)
	if err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	descs, err := sinkDescriptors(oimg, names)
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
	if err := fillLayout(tmp, oimg, descs); err != nil {
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
func fillLayout(tmp string, img v1.Image, descs []v1.Descriptor) error {
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return err
	}
	if err := p.WriteImage(img); err != nil {
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

// WriteOCIArchive writes img as a tar of an OCI image layout (what
// `docker buildx build --output type=oci,dest=x.tar` produces) to the file
// path, through outfile.Write.
func WriteOCIArchive(img v1.Image, path string, names []string) error {
	err := outfile.Write(path, 0o644, func(w io.Writer) error { return ociArchive(w, img, names) })
	if err != nil {
		return fmt.Errorf("writing OCI archive %s: %w", path, err)
	}
	return nil
}

// StreamOCIArchive writes the archive of WriteOCIArchive to w (stdout for
// dest=-).
func StreamOCIArchive(w io.Writer, img v1.Image, names []string) error {
	if err := ociArchive(w, img, names); err != nil {
		return fmt.Errorf("writing OCI archive: %w", err)
	}
	return nil
}

func ociArchive(w io.Writer, img v1.Image, names []string) error {
	oimg, err := toOCI(img)
	if err != nil {
		return err
	}
	descs, err := sinkDescriptors(oimg, names)
	if err != nil {
		return err
	}
	return writeOCITar(w, oimg, descs)
}

func writeOCITar(w io.Writer, img v1.Image, descs []v1.Descriptor) error {
	tw := tar.NewWriter(w)
	epoch := time.Unix(0, 0)
	file := func(name string, b []byte) error {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: epoch, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	if err := file(ociLayoutFile, []byte(ociLayoutContent)); err != nil {
		return err
	}
	idx, err := json.Marshal(&v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: descs})
	if err != nil {
		return err
	}
	if err := file(indexFile, idx); err != nil {
		return err
	}
	rawMan, err := img.RawManifest()
	if err != nil {
		return fmt.Errorf("reading manifest: %w", err)
	}
	if err := file("blobs/sha256/"+descs[0].Digest.Hex, rawMan); err != nil {
		return err
	}
	m, err := img.Manifest()
	if err != nil {
		return fmt.Errorf("reading manifest: %w", err)
	}
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	if err := file("blobs/sha256/"+m.Config.Digest.Hex, rawCfg); err != nil {
		return err
	}
	written := map[v1.Hash]bool{}
	for _, ld := range m.Layers {
		if written[ld.Digest] {
			continue
		}
		written[ld.Digest] = true
		if err := writeLayerEntry(tw, img, ld, epoch); err != nil {
			return err
		}
	}
	return tw.Close()
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
