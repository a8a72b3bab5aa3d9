package fscopy

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

var (
	magicGzip  = []byte{0x1f, 0x8b, 0x08}
	magicBzip2 = []byte{'B', 'Z', 'h'}
	magicXz    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	magicZstd  = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// decompress wraps r in the decompressor its magic bytes ask for, or
// returns it as is. xz is decompressed by the xz binary, as Docker does.
func decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(6)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading archive header: %w", err)
	}
	switch {
	case bytes.HasPrefix(head, magicGzip):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("opening gzip stream: %w", err)
		}
		return zr, nil
	case bytes.HasPrefix(head, magicBzip2):
		return io.NopCloser(bzip2.NewReader(br)), nil
	case bytes.HasPrefix(head, magicXz):
		return xzReader(br)
	case bytes.HasPrefix(head, magicZstd):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("opening zstd stream: %w", err)
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}

// xzProcess is the output of a running "xz -d"; Close stops and reaps it.
type xzProcess struct {
	io.ReadCloser
	cmd *exec.Cmd
}

func xzReader(r io.Reader) (io.ReadCloser, error) {
	cmd := exec.Command("xz", "-d", "-c", "-q")
	cmd.Stdin = r
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("starting xz: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting xz: %w", err)
	}
	return &xzProcess{ReadCloser: out, cmd: cmd}, nil
}

func (x *xzProcess) Close() error {
	x.ReadCloser.Close()
	if x.cmd.ProcessState == nil {
		_ = x.cmd.Process.Kill()
	}
	_ = x.cmd.Wait()
	return nil
}

// isArchive reports whether the regular file at p is a tar archive, plain or
// compressed: it decompresses and reads one tar header. Only a missing
// decompressor binary is an error.
func isArchive(p string) (bool, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return false, nil
	}
	defer f.Close()
	rc, err := decompress(f)
	if err != nil {
		var execErr *exec.Error
		if errors.As(err, &execErr) {
			return false, err
		}
		return false, nil
	}
	defer rc.Close()
	_, err = tar.NewReader(rc).Next()
	return err == nil, nil
}

// extractTo unpacks the archive m into destPath (always a directory), the way
// Docker's chrooted untar does: every entry path, and every symlink met on
// the way, is resolved inside the extraction directory.
func (c *copier) extractTo(m match, destPath string) error {
	dst, err := resolveIn(c.root, destPath, true, nil)
	if err != nil {
		return fmt.Errorf("extracting %q: %w", m.name, err)
	}
	if err := c.ensureDir(dst.rel); err != nil {
		return fmt.Errorf("extracting %q: %w", m.name, err)
	}
	f, err := os.OpenFile(m.host, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("extracting %q: %w", m.name, err)
	}
	defer f.Close()
	rc, err := decompress(f)
	if err != nil {
		return fmt.Errorf("extracting %q: %w", m.name, err)
	}
	defer rc.Close()
	if err := untar(tar.NewReader(rc), dst.host, c.opts.Chown); err != nil {
		return fmt.Errorf("extracting %q: %w", m.name, err)
	}
	return nil
}

type dirTimes struct {
	host string
	ts   []unix.Timespec
}

// untar writes the entries of tr below dir. Entries keep their own owner
// unless chown is set; missing parents are created 0755 root-owned.
func untar(tr *tar.Reader, dir string, chown *Owner) error {
	var dirs []dirTimes
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w", err)
		}
		name := path.Clean("/" + hdr.Name)
		if name == "/" {
			continue
		}
		parent, err := resolveIn(dir, path.Dir(name), true, nil)
		if err != nil {
			return err
		}
		if err := mkdirAllIn(dir, parent.rel, Owner{}); err != nil {
			return err
		}
		target := filepath.Join(parent.host, path.Base(name))
		if fi, err := os.Lstat(target); err == nil && !(fi.IsDir() && hdr.Typeflag == tar.TypeDir) {
			if err := os.RemoveAll(target); err != nil {
				return fmt.Errorf("replacing %s: %w", name, err)
			}
		}
		if err := writeEntry(tr, hdr, dir, target); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
		if !isWritten(hdr.Typeflag) {
			continue
		}
		uid, gid := hdr.Uid, hdr.Gid
		if chown != nil {
			uid, gid = chown.UID, chown.GID
		}
		if err := os.Lchown(target, uid, gid); err != nil {
			return fmt.Errorf("setting owner of %s: %w", name, err)
		}
		if hdr.Typeflag != tar.TypeSymlink {
			if err := unix.Fchmodat(unix.AT_FDCWD, target, uint32(hdr.Mode)&0o7777, 0); err != nil {
				return fmt.Errorf("setting mode of %s: %w", name, err)
			}
		}
		ts := []unix.Timespec{unix.NsecToTimespec(hdr.AccessTime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
		if hdr.AccessTime.IsZero() {
			ts[0] = ts[1]
		}
		if hdr.Typeflag == tar.TypeDir {
			dirs = append(dirs, dirTimes{host: target, ts: ts})
			continue
		}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, target, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("setting times of %s: %w", name, err)
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, dirs[i].host, dirs[i].ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("setting times of %s: %w", dirs[i].host, err)
		}
	}
	return nil
}

func isWritten(typ byte) bool {
	switch typ {
	case tar.TypeDir, tar.TypeReg, tar.TypeRegA, tar.TypeSymlink, tar.TypeLink,
		tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return true
	}
	return false
}

// writeEntry creates the file system object for hdr at target (absent).
func writeEntry(tr *tar.Reader, hdr *tar.Header, root, target string) error {
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := os.Mkdir(target, 0o700); err != nil && !os.IsExist(err) {
			return err
		}
	case tar.TypeReg, tar.TypeRegA:
		out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, tr); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	case tar.TypeSymlink:
		return os.Symlink(hdr.Linkname, target)
	case tar.TypeLink:
		src, err := resolveIn(root, hdr.Linkname, false, nil)
		if err != nil {
			return err
		}
		if fi, err := os.Lstat(src.host); err != nil || fi.IsDir() {
			return fmt.Errorf("invalid hard link target %q", hdr.Linkname)
		}
		return os.Link(src.host, target)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		mode := uint32(hdr.Mode) & 0o7777
		switch hdr.Typeflag {
		case tar.TypeChar:
			mode |= unix.S_IFCHR
		case tar.TypeBlock:
			mode |= unix.S_IFBLK
		default:
			mode |= unix.S_IFIFO
		}
		return unix.Mknod(target, mode, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))))
	}
	return nil
}

// mkdirAllIn creates the missing directories of rel below root, mode 0755,
// owned by own. rel must already be resolved inside root: an existing
// component that is not a directory (a symlink included) is an error.
func mkdirAllIn(root, rel string, own Owner) error {
	cur := root
	for _, comp := range splitPath(rel) {
		if comp == "" || comp == "." {
			continue
		}
		cur = filepath.Join(cur, comp)
		fi, err := os.Lstat(cur)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("creating directory %s: %w", strings.TrimPrefix(cur, root), syscall.ENOTDIR)
			}
			continue
		}
		if !os.IsNotExist(err) {
			return fmt.Errorf("creating directory: %w", err)
		}
		if err := os.Mkdir(cur, 0o700); err != nil {
			return fmt.Errorf("creating directory: %w", err)
		}
		if err := os.Lchown(cur, own.UID, own.GID); err != nil {
			return fmt.Errorf("creating directory: %w", err)
		}
		if err := os.Chmod(cur, 0o755); err != nil {
			return fmt.Errorf("creating directory: %w", err)
		}
	}
	return nil
}
