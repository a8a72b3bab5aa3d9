package fscopy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// maxSymlinks bounds symlink hops while resolving one path, like the kernel.
const maxSymlinks = 255

// resolved is a path resolved inside a root.
type resolved struct {
	host string // host path, always root or below it
	rel  string // slash-separated, relative to root, "" for the root itself
}

// visitFunc is called for every existing path component met while
// resolving, symlinks included, with its root-relative path and Lstat info.
// Returning an error stops the resolution with that error.
type visitFunc func(rel string, fi fs.FileInfo) error

// resolveIn resolves p (slash-separated, absolute or relative, both meaning
// "from root") inside root, following symlinks as if root were "/": ".." never
// climbs above root and absolute link targets restart at root. The final
// component is followed only when followFinal is set. Components that do not
// exist are appended lexically.
func resolveIn(root, p string, followFinal bool, visit visitFunc) (resolved, error) {
	pending := splitPath(p)
	var cur []string
	hops := 0
	for len(pending) > 0 {
		comp := pending[0]
		pending = pending[1:]
		switch comp {
		case "", ".":
			continue
		case "..":
			if len(cur) > 0 {
				cur = cur[:len(cur)-1]
			}
			continue
		}
		rel := path.Join(append(cur, comp)...)
		host := filepath.Join(root, filepath.FromSlash(rel))
		fi, err := os.Lstat(host)
		if err != nil {
			if os.IsNotExist(err) || isNotDir(err) {
				cur = append(cur, comp)
				continue
			}
			return resolved{}, fmt.Errorf("resolving %q: %w", p, err)
		}
		if visit != nil {
			if err := visit(rel, fi); err != nil {
				return resolved{}, err
			}
		}
		if fi.Mode()&fs.ModeSymlink == 0 || (len(pending) == 0 && !followFinal) {
			cur = append(cur, comp)
			continue
		}
		hops++
		if hops > maxSymlinks {
			return resolved{}, fmt.Errorf("resolving %q: %w", p, syscall.ELOOP)
		}
		target, err := os.Readlink(host)
		if err != nil {
			return resolved{}, fmt.Errorf("resolving %q: %w", p, err)
		}
		if strings.HasPrefix(target, "/") {
			cur = cur[:0]
		}
		pending = append(splitPath(target), pending...)
	}
	rel := path.Join(cur...)
	return resolved{host: filepath.Join(root, filepath.FromSlash(rel)), rel: rel}, nil
}

func splitPath(p string) []string {
	return strings.Split(filepath.ToSlash(p), "/")
}

func isNotDir(err error) bool {
	return errors.Is(err, syscall.ENOTDIR)
}
