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
	"syscall"

	"github.com/hush-build/hush/internal/untar"
	"github.com/klauspost/compress/zstd"
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

// extractTo unpacks the archive m into destPath (always a directory), the way Docker's
// chrooted untar does: the extractor is confined to the destination directory, so every
// entry path, and every symlink met on the way, is resolved inside it.
func (c *copier) extractTo(m match, destPath string) error {
	destPath, err := c.root.Resolve(destPath)
	if err != nil {
		return fmt.Errorf("extracting %q: %w", m.name, err)
	}
	if err := c.ensureDir(destPath); err != nil {
		return fmt.Errorf("extracting %q: %w", m.name, err)
	}
	dst, err := c.root.OpenRoot(destPath)
	if err != nil {
		return fmt.Errorf("extracting %q: %w", m.name, err)
	}
	defer dst.Close()
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
	if err := untar.Extract(rc, dst, untar.Options{Chown: c.opts.Chown}); err != nil {
		return fmt.Errorf("extracting %q: %w", m.name, err)
	}
	return nil
}
