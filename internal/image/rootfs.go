package image

import (
	"github.com/hush-build/hush/internal/fsroot"
	extract "github.com/hush-build/hush/internal/untar"

	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// ExportRootfs writes img's final filesystem (layers applied in order,
// whiteouts and opaque directories honoured) into dir, like buildx
// --output type=local. The tree is built under a temp name beside dir; when
// dir is missing or empty it is renamed into place, otherwise each top-level
// entry is moved into dir, replacing entries of the same name (so exporting
// into "." never deletes unrelated files).
func ExportRootfs(img v1.Image, dir string) error {
	dir = filepath.Clean(dir)
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("exporting rootfs to %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-*")
	if err != nil {
		return fmt.Errorf("exporting rootfs to %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp)
	rc := mutate.Extract(img)
	defer rc.Close()
	if err := untar(rc, tmp); err != nil {
		return fmt.Errorf("exporting rootfs to %s: %w", dir, err)
	}
	if err := moveInto(tmp, dir); err != nil {
		return fmt.Errorf("exporting rootfs to %s: %w", dir, err)
	}
	return nil
}

// moveInto puts the finished tree tmp at dir.
func moveInto(tmp, dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return os.Rename(tmp, dir)
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s exists and is not a directory", dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(ents) == 0 {
		if err := os.Remove(dir); err != nil {
			return err
		}
		return os.Rename(tmp, dir)
	}
	tops, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	for _, e := range tops {
		dst := filepath.Join(dir, e.Name())
		if err := os.RemoveAll(dst); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(tmp, e.Name()), dst); err != nil {
			return err
		}
	}
	return nil
}

// untar extracts a flattened filesystem tar into dir with hush's one extractor, in its
// host mode: every name is resolved inside dir, and no device node, set-id bit or file
// capability from the image lands on the host.
func untar(r io.Reader, dir string) error {
	root, err := fsroot.Open(dir)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	defer root.Close()
	if err := extract.Extract(r, root, extract.Options{ForHost: true}); err != nil {
		return err
	}
	// mutate.Extract ends the tar before reporting a failure: read on to see it.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("reading layers: %w", err)
	}
	return nil
}
