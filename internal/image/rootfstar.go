package image

import (
	"archive/tar"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/hush-build/hush/internal/outfile"
)

// RootfsPart is one platform's filesystem in a type=local or type=tar output: under Dir
// ("" for the root; BuildKit's platform-split directory), with its attestation files.
type RootfsPart struct {
	Dir          string
	Image        v1.Image
	Attestations []Attestation
}

// WriteRootfsTar writes img's final filesystem as one tar file at path, like
// buildx --output type=tar,dest=FILE, through outfile.Write.
func WriteRootfsTar(img v1.Image, path string, atts ...Attestation) error {
	return WriteRootfsTars(path, []RootfsPart{{Image: img, Attestations: atts}})
}

// WriteRootfsTars is WriteRootfsTar of several parts (a multi-platform result).
func WriteRootfsTars(path string, parts []RootfsPart) error {
	if err := outfile.Write(path, 0o644, func(w io.Writer) error { return rootfsTars(w, parts) }); err != nil {
		return fmt.Errorf("writing rootfs tar %s: %w", path, err)
	}
	return nil
}

// StreamRootfsTar writes the tar of WriteRootfsTar to w (stdout for
// dest=-).
func StreamRootfsTar(w io.Writer, img v1.Image, atts ...Attestation) error {
	return StreamRootfsTars(w, []RootfsPart{{Image: img, Attestations: atts}})
}

// StreamRootfsTars is StreamRootfsTar of several parts.
func StreamRootfsTars(w io.Writer, parts []RootfsPart) error {
	if err := rootfsTars(w, parts); err != nil {
		return fmt.Errorf("writing rootfs tar: %w", err)
	}
	return nil
}

// rootfsTars writes each part (under its directory) into one tar.
func rootfsTars(w io.Writer, parts []RootfsPart) error {
	tw := tar.NewWriter(w)
	for _, p := range parts {
		if p.Dir != "" {
			hdr := &tar.Header{Typeflag: tar.TypeDir, Name: p.Dir + "/", Mode: 0o755, ModTime: time.Now()}
			if err := tw.WriteHeader(hdr); err != nil {
				return fmt.Errorf("writing %s: %w", p.Dir, err)
			}
		}
		if err := rootfsTar(tw, p); err != nil {
			return err
		}
	}
	return tw.Close()
}

// rootfsTar re-encodes the flattened layers (mutate.Extract: whiteouts and
// opaque dirs applied, whiteout markers dropped): names relative to the
// root (under p.Dir), no root entry, and only file types, so the tar holds the
// image's files and nothing else, and after them the attestation files about them.
func rootfsTar(tw *tar.Writer, p RootfsPart) error {
	rc := mutate.Extract(p.Image)
	defer rc.Close()
	tr := tar.NewReader(rc)
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
		if err := writeEntry(tw, tr, hdr, name, p.Dir, files); err != nil {
			return err
		}
	}
	if len(p.Attestations) > 0 {
		return appendAttestations(tw, files, p.Attestations, p.Dir)
	}
	return nil
}

// writeEntry writes one layer entry named name (relative) under dir.
func writeEntry(tw *tar.Writer, tr io.Reader, hdr *tar.Header, name, dir string, files fileDigests) error {
	link := ""
	if hdr.Typeflag == tar.TypeLink {
		target, ok := relName(hdr.Linkname)
		if !ok || target == "" {
			return fmt.Errorf("unsafe hardlink %q -> %q in layer", hdr.Name, hdr.Linkname)
		}
		link, hdr.Linkname = target, path.Join(dir, target)
	}
	hdr.Name, hdr.Format = path.Join(dir, name), tar.FormatUnknown
	if hdr.Typeflag == tar.TypeDir {
		hdr.Name += "/"
	}
	dropBasicPAX(hdr)
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing %s: %w", hdr.Name, err)
	}
	if err := copyEntry(tw, tr, hdr.Typeflag, name, link, files); err != nil {
		return fmt.Errorf("writing %s: %w", hdr.Name, err)
	}
	return nil
}

// copyEntry copies an entry's contents, recording a regular file's digest (and a hard
// link's, its target's) in files.
func copyEntry(tw *tar.Writer, tr io.Reader, typ byte, name, link string, files fileDigests) error {
	switch typ {
	case tar.TypeReg:
		h := sha256.New()
		if _, err := io.Copy(tw, io.TeeReader(tr, h)); err != nil {
			return err
		}
		files.add(name, h)
		return nil
	case tar.TypeLink:
		if d, ok := files[link]; ok {
			files[name] = d
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
