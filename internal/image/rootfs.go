package image

import (
	"strconv"

	"github.com/hush-build/hush/internal/fsroot"
	extract "github.com/hush-build/hush/internal/untar"

	"errors"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"golang.org/x/sys/unix"

	"github.com/hush-build/hush/internal/outfile"
)

// ExportRootfs writes img's final filesystem (layers applied in order,
// whiteouts and opaque directories honoured) into dir, like buildx
// --output type=local. A dir given as a symlink is followed, as buildx does;
// the root directory is refused. The tree is built under a temp name beside
// dir; when dir is missing it is renamed into place, otherwise it is merged
// into dir as buildx merges: a directory present in both is merged entry by
// entry, anything else the image has replaces the entry of the same name, and
// what only dir has stays (exporting into "." never deletes unrelated files).
// Each attestation is written beside the files, as BuildKit's local exporter does.
func ExportRootfs(img v1.Image, dir string, atts ...Attestation) error {
	dir, err := outputDir(dir)
	if err != nil {
		return fmt.Errorf("exporting rootfs: %w", err)
	}
	tmp, release, err := outfile.TempDir(dir)
	if err != nil {
		return fmt.Errorf("exporting rootfs to %s: %w", dir, err)
	}
	defer release()
	defer os.RemoveAll(tmp)
	rc := mutate.Extract(img)
	defer rc.Close()
	if err := untar(rc, tmp); err != nil {
		return fmt.Errorf("exporting rootfs to %s: %w", dir, err)
	}
	if len(atts) > 0 {
		if err := writeDirAttestations(tmp, atts); err != nil {
			return fmt.Errorf("exporting rootfs to %s: %w", dir, err)
		}
	}
	if err := moveInto(tmp, dir); err != nil {
		return fmt.Errorf("exporting rootfs to %s: %w", dir, err)
	}
	return nil
}

// moveInto puts the finished tree tmp at dir, merging it into an existing dir. Entries
// are moved with renameat(2) on directory fds; an entry the image replaces (a symlink
// too: the link itself, never followed) is first moved into a temp dir that is removed
// afterwards, so nothing outside dir is touched.
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
	aside, release, err := outfile.TempDir(dir)
	if err != nil {
		return err
	}
	defer release()
	defer os.RemoveAll(aside)
	fds, err := openDirs(tmp, dir, aside)
	if err != nil {
		return err
	}
	defer closeAll(fds)
	m := &merger{old: int(fds[2].Fd())}
	return m.merge(int(fds[0].Fd()), int(fds[1].Fd()), "")
}

// merger moves a tree into another; old holds what it replaced.
type merger struct {
	old int
	n   int // names in old
}

// merge moves every entry of the dir src into the dir dst (at rel, for messages).
func (m *merger) merge(src, dst int, rel string) error {
	dup, err := unix.Dup(src)
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(dup), rel)
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := m.entry(src, dst, n, rel+"/"+n); err != nil {
			return err
		}
	}
	return nil
}

func (m *merger) entry(src, dst int, n, rel string) error {
	var ss, ds unix.Stat_t
	if err := unix.Fstatat(src, n, &ss, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	err := unix.Fstatat(dst, n, &ds, unix.AT_SYMLINK_NOFOLLOW)
	if err == nil && ss.Mode&unix.S_IFMT == unix.S_IFDIR && ds.Mode&unix.S_IFMT == unix.S_IFDIR {
		return m.mergeDir(src, dst, n, rel)
	}
	if err == nil {
		m.n++
		if err := unix.Renameat(dst, n, m.old, strconv.Itoa(m.n)); err != nil {
			return fmt.Errorf("moving old %s aside: %w", rel, err)
		}
	} else if !errors.Is(err, unix.ENOENT) {
		return err
	}
	if err := unix.Renameat(src, n, dst, n); err != nil {
		return fmt.Errorf("moving %s into place: %w", rel, err)
	}
	return nil
}

func (m *merger) mergeDir(src, dst int, n, rel string) error {
	flags := unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	s, err := unix.Openat(src, n, flags, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	d, err := unix.Openat(dst, n, flags, 0)
	if err != nil {
		return err
	}
	defer unix.Close(d)
	return m.merge(s, d, rel)
}

// openDirs opens each path as a directory, refusing a symlink.
func openDirs(paths ...string) ([]*os.File, error) {
	var fds []*os.File
	for _, p := range paths {
		f, err := os.OpenFile(p, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
		if err != nil {
			closeAll(fds)
			return nil, err
		}
		fds = append(fds, f)
	}
	return fds, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
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
