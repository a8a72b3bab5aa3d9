package snapshot

import (
	"bytes"
	"errors"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// dropUnchangedDirs removes from entries (sorted, parents first) the directories an
// overlay upper holds only because something below them was touched and is gone again
// (a file made and removed, an mtime changed), as BuildKit's overlay differ leaves them
// out: a directory whose mode, owner, device number and file capabilities equal those of
// the directory it covers in lowers (top-most first), that is not opaque, and that has no
// other entry below it. It returns the kept entries and the dropped directories' names.
func dropUnchangedDirs(entries []layerEntry, lowers []string) ([]layerEntry, []string) {
	if len(lowers) == 0 {
		return entries, nil
	}
	keep := make([]bool, len(entries))
	// Children come after their parent, so walking backwards decides every child first.
	needed := map[string]bool{}
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		isDir := e.kind == kindPlain && e.st.Mode&unix.S_IFMT == unix.S_IFDIR
		keep[i] = !isDir || needed[e.name] || !sameAsLower(e, lowers)
		if keep[i] {
			for p := path.Dir(e.name); p != "."; p = path.Dir(p) {
				needed[p] = true
			}
		}
	}
	var out []layerEntry
	var dropped []string
	for i, e := range entries {
		if keep[i] {
			out = append(out, e)
		} else {
			dropped = append(dropped, e.path)
		}
	}
	return out, dropped
}

// sameAsLower reports whether the directory entry e has the metadata of what the same
// name is in lowers. An opaque upper directory is never the same.
func sameAsLower(e layerEntry, lowers []string) bool {
	if opaque, err := isOpaque(e.path); err != nil || opaque {
		return false
	}
	lower, ok := lowerPath(e.name, lowers)
	if !ok {
		return false
	}
	var st unix.Stat_t
	if err := unix.Lstat(lower, &st); err != nil {
		return false
	}
	if st.Mode != e.st.Mode || st.Uid != e.st.Uid || st.Gid != e.st.Gid || st.Rdev != e.st.Rdev {
		return false
	}
	c1, err1 := lgetxattr(e.path, "security.capability")
	c2, err2 := lgetxattr(lower, "security.capability")
	if (err1 != nil && !isNoXattr(err1)) || (err2 != nil && !isNoXattr(err2)) {
		return false
	}
	return bytes.Equal(c1, c2)
}

// lowerPath finds name in the overlay lowers (top-most first) as overlayfs would: the
// first lower holding it, unless a higher lower deletes it (a whiteout) or hides it (an
// opaque directory on the way).
func lowerPath(name string, lowers []string) (string, bool) {
	parts := strings.Split(name, "/")
	for _, l := range lowers {
		for i := range parts {
			p := filepath.Join(l, filepath.FromSlash(strings.Join(parts[:i+1], "/")))
			var st unix.Stat_t
			err := unix.Lstat(p, &st)
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
				break // not in this lower; look further down
			}
			if err != nil {
				return "", false
			}
			if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
				return "", false // deleted above
			}
			if i == len(parts)-1 {
				return p, true
			}
			if opaque, err := isOpaque(p); err != nil || opaque {
				return "", false // a new directory hides what is below
			}
		}
	}
	return "", false
}
