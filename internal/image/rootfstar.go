package image

import (
	"archive/tar"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/hush-build/hush/internal/outfile"
)

// WriteRootfsTar writes img's final filesystem as one tar file at path, like
// buildx --output type=tar,dest=FILE, through outfile.Write.
func WriteRootfsTar(img v1.Image, path string, atts ...Attestation) error {
	if err := outfile.Write(path, 0o644, func(w io.Writer) error { return rootfsTar(w, img, atts) }); err != nil {
		return fmt.Errorf("writing rootfs tar %s: %w", path, err)
	}
	return nil
}

// StreamRootfsTar writes the tar of WriteRootfsTar to w (stdout for
// dest=-).
func StreamRootfsTar(w io.Writer, img v1.Image, atts ...Attestation) error {
	if err := rootfsTar(w, img, atts); err != nil {
		return fmt.Errorf("writing rootfs tar: %w", err)
	}
	return nil
}

// rootfsTar re-encodes the flattened layers (mutate.Extract: whiteouts and
// opaque dirs applied, whiteout markers dropped): names relative to the
// root, no root entry, and only file types, so the tar holds the image's
// files and nothing else, and after them the attestation files (atts) about them.
func rootfsTar(w io.Writer, img v1.Image, atts []Attestation) error {
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	tw := tar.NewWriter(w)
	files := fileDigests{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			// mutate.Extract ends the tar before reporting a failure.
			if _, err := io.Copy(io.Discard, rc); err != nil {
				return fmt.Errorf("reading layers: %w", err)
			}
			break
		}
		if err != nil {
			return fmt.Errorf("reading layers: %w", err)
		}
		if !rootfsType(hdr.Typeflag) {
			continue
		}
		name, ok := relName(hdr.Name)
		if !ok {
			return fmt.Errorf("unsafe path %q in layer", hdr.Name)
		}
		if name == "" {
			continue
		}
		if hdr.Typeflag == tar.TypeLink {
			target, ok := relName(hdr.Linkname)
			if !ok || target == "" {
				return fmt.Errorf("unsafe hardlink %q -> %q in layer", hdr.Name, hdr.Linkname)
			}
			hdr.Linkname = target
		}
		if hdr.Typeflag == tar.TypeDir {
			name += "/"
		}
		hdr.Name, hdr.Format = name, tar.FormatUnknown
		dropBasicPAX(hdr)
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
		if err := copyEntry(tw, tr, hdr, files); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	if len(atts) > 0 {
		if err := appendAttestations(tw, files, atts); err != nil {
			return err
		}
	}
	return tw.Close()
}

// copyEntry copies an entry's contents, recording a regular file's digest (and a hard
// link's, its target's) in files.
func copyEntry(tw *tar.Writer, tr io.Reader, hdr *tar.Header, files fileDigests) error {
	switch hdr.Typeflag {
	case tar.TypeReg:
		h := sha256.New()
		if _, err := io.Copy(tw, io.TeeReader(tr, h)); err != nil {
			return err
		}
		files.add(hdr.Name, h)
		return nil
	case tar.TypeLink:
		if d, ok := files[hdr.Linkname]; ok {
			files[hdr.Name] = d
		}
	}
	_, err := io.Copy(tw, tr)
	return err
}

// dropBasicPAX removes the PAX records tar.Reader also decodes into header
// fields (the fields carry them; tar.Writer rejects a stale "path" record).
func dropBasicPAX(hdr *tar.Header) {
	for k := range hdr.PAXRecords {
		switch k {
		case "path", "linkpath", "size", "uid", "gid", "uname", "gname", "mtime", "atime", "ctime":
			delete(hdr.PAXRecords, k)
		}
	}
}

func rootfsType(t byte) bool {
	switch t {
	case tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return true
	}
	return false
}

// relName is a layer entry's name relative to the root ("" for the root
// itself); ok is false for a name with a NUL byte.
func relName(n string) (string, bool) {
	if strings.Contains(n, "\x00") {
		return "", false
	}
	return strings.TrimPrefix(path.Clean("/"+n), "/"), true
}
