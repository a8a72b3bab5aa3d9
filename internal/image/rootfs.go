package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"golang.org/x/sys/unix"

	"github.com/hush-build/hush/internal/outfile"
)

// ExportRootfs writes img's final filesystem (layers applied in order,
// whiteouts and opaque directories honoured) into dir, like buildx
// --output type=local. A dir given as a symlink is followed, as buildx does;
// the root directory is refused. The tree is built under a temp name beside
// dir; when dir is missing it is renamed into place, otherwise each
// top-level entry is moved into dir, replacing the entry of the same name
// (so exporting into "." never deletes unrelated files).
func ExportRootfs(img v1.Image, dir string) error {
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
	if err := moveInto(tmp, dir); err != nil {
		return fmt.Errorf("exporting rootfs to %s: %w", dir, err)
	}
	return nil
}

// moveInto puts the finished tree tmp at dir. Into an existing dir each
// top-level entry is moved with renameat(2) on directory fds: the entry of
// the same name in dir (a symlink too: the link itself, never followed) is
// first moved into a temp dir that is removed afterwards, so nothing but
// those names in dir is touched, and nothing outside it.
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
	src, dst, old := int(fds[0].Fd()), int(fds[1].Fd()), int(fds[2].Fd())
	names, err := fds[0].Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := unix.Renameat(dst, n, old, n); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("moving old %s aside: %w", n, err)
		}
		if err := unix.Renameat(src, n, dst, n); err != nil {
			unix.Renameat(old, n, dst, n)
			return fmt.Errorf("moving %s into place: %w", n, err)
		}
	}
	return nil
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

type dirTimes struct {
	name  string
	mtime time.Time
}

// untar extracts a flattened filesystem tar into dir through an os.Root, so
// no entry (or symlink planted by an earlier entry) can write outside dir.
func untar(r io.Reader, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	defer root.Close()
	tr := tar.NewReader(r)
	var links []*tar.Header
	var dirs []dirTimes
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			// mutate.Extract ends the tar before reporting a failure:
			// read on to see it.
			if _, err := io.Copy(io.Discard, r); err != nil {
				return fmt.Errorf("reading layers: %w", err)
			}
			break
		}
		if err != nil {
			return fmt.Errorf("reading layers: %w", err)
		}
		name, ok := cleanEntry(hdr.Name)
		if !ok {
			return fmt.Errorf("unsafe path %q in layer", hdr.Name)
		}
		if name == "." {
			if hdr.Typeflag == tar.TypeDir {
				dirs = append(dirs, dirTimes{".", hdr.ModTime})
			}
			continue
		}
		if err := root.MkdirAll(path.Dir(name), 0o755); err != nil {
			return fmt.Errorf("creating parent of %s: %w", name, err)
		}
		switch hdr.Typeflag {
		case tar.TypeLink:
			links = append(links, hdr)
			continue
		case tar.TypeDir:
			err = makeDir(root, name, hdr)
			dirs = append(dirs, dirTimes{name, hdr.ModTime})
		case tar.TypeReg:
			err = writeRegular(root, name, hdr, tr)
		case tar.TypeSymlink:
			err = makeSymlink(root, name, hdr)
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			err = makeNode(root, name, hdr)
		default:
			continue // sockets, PAX globals and the like carry no file
		}
		if err != nil {
			return err
		}
	}
	for _, hdr := range links {
		if err := makeHardlink(root, hdr); err != nil {
			return err
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := root.Chtimes(dirs[i].name, dirs[i].mtime, dirs[i].mtime); err != nil {
			return fmt.Errorf("setting times of %s: %w", dirs[i].name, err)
		}
	}
	return nil
}

// cleanEntry makes a tar name relative to the root; ok is false for names
// that climb out of it.
func cleanEntry(n string) (string, bool) {
	c := path.Clean("/" + n)
	if strings.Contains(n, "\x00") {
		return "", false
	}
	if c == "/" {
		return ".", true
	}
	return strings.TrimPrefix(c, "/"), true
}

func makeDir(root *os.Root, name string, hdr *tar.Header) error {
	if fi, err := root.Lstat(name); err == nil && !fi.IsDir() {
		if err := root.Remove(name); err != nil {
			return fmt.Errorf("replacing %s: %w", name, err)
		}
	}
	if err := root.Mkdir(name, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("creating directory %s: %w", name, err)
	}
	return setMeta(root, name, hdr)
}

func writeRegular(root *os.Root, name string, hdr *tar.Header, r io.Reader) error {
	if err := removeExisting(root, name); err != nil {
		return err
	}
	f, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("creating %s: %w", name, err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := setXattrs(f, hdr); err != nil {
		f.Close()
		return fmt.Errorf("setting xattrs of %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", name, err)
	}
	if err := setMeta(root, name, hdr); err != nil {
		return err
	}
	return root.Chtimes(name, hdr.ModTime, hdr.ModTime)
}

func makeSymlink(root *os.Root, name string, hdr *tar.Header) error {
	if err := removeExisting(root, name); err != nil {
		return err
	}
	if err := root.Symlink(hdr.Linkname, name); err != nil {
		return fmt.Errorf("creating symlink %s: %w", name, err)
	}
	if err := root.Lchown(name, hdr.Uid, hdr.Gid); err != nil && os.Geteuid() == 0 {
		return fmt.Errorf("chowning %s: %w", name, err)
	}
	return nil
}

func makeHardlink(root *os.Root, hdr *tar.Header) error {
	name, ok := cleanEntry(hdr.Name)
	target, tok := cleanEntry(hdr.Linkname)
	if !ok || !tok || target == "." {
		return fmt.Errorf("unsafe hardlink %q -> %q in layer", hdr.Name, hdr.Linkname)
	}
	if err := removeExisting(root, name); err != nil {
		return err
	}
	if err := root.Link(target, name); err != nil {
		return fmt.Errorf("linking %s to %s: %w", name, target, err)
	}
	return nil
}

// makeNode creates a device or fifo with mknodat on a parent opened
// through the root, so the node cannot land outside it.
func makeNode(root *os.Root, name string, hdr *tar.Header) error {
	if err := removeExisting(root, name); err != nil {
		return err
	}
	parent, err := root.Open(path.Dir(name))
	if err != nil {
		return fmt.Errorf("opening parent of %s: %w", name, err)
	}
	defer parent.Close()
	mode := uint32(hdr.Mode & 0o7777)
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode |= unix.S_IFCHR
	case tar.TypeBlock:
		mode |= unix.S_IFBLK
	default:
		mode |= unix.S_IFIFO
	}
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	if err := unix.Mknodat(int(parent.Fd()), path.Base(name), mode, int(dev)); err != nil {
		return fmt.Errorf("creating node %s: %w", name, err)
	}
	return setMeta(root, name, hdr)
}

func removeExisting(root *os.Root, name string) error {
	if err := root.RemoveAll(name); err != nil {
		return fmt.Errorf("replacing %s: %w", name, err)
	}
	return nil
}

// setMeta applies owner then mode (chown clears setuid bits, so order matters).
func setMeta(root *os.Root, name string, hdr *tar.Header) error {
	if err := root.Lchown(name, hdr.Uid, hdr.Gid); err != nil && os.Geteuid() == 0 {
		return fmt.Errorf("chowning %s: %w", name, err)
	}
	if err := root.Chmod(name, hdr.FileInfo().Mode()&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky)); err != nil {
		return fmt.Errorf("setting mode of %s: %w", name, err)
	}
	return nil
}

// setXattrs applies SCHILY.xattr.* PAX records (file capabilities and the
// like) to an open file.
func setXattrs(f *os.File, hdr *tar.Header) error {
	for k, v := range hdr.PAXRecords {
		attr, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok {
			continue
		}
		if err := unix.Fsetxattr(int(f.Fd()), attr, []byte(v), 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
			return err
		}
	}
	return nil
}
