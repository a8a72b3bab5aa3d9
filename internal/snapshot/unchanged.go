package snapshot

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// dropUnchangedDirs removes from entries (sorted, parents first) the directories an
// overlay upper holds only because something below them was touched and is gone again
// (a file made and removed, an mtime changed), as BuildKit's overlay differ leaves them
// out: a directory whose mode, owner, device number and file capabilities equal those of
// the directory it covers in lowers (top-most first) and that has no other entry below it
// (expandOpaque has turned opaque markers into whiteouts below their directory). It returns the kept entries and the dropped directories' names.
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
// name is in lowers. (An opaque one is the same too when nothing below it is left after
// expandOpaque: the lowers show nothing there either.)
func sameAsLower(e layerEntry, lowers []string) bool {
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
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				// A file or a symlink here hides every lower below it; and a layer's
				// symlink must never be followed onto the host's paths.
				return "", false
			}
			if opaque, err := isOpaque(p); err != nil || opaque {
				return "", false // a new directory hides what is below
			}
		}
	}
	return "", false
}

// expandOpaque rewrites the opaque directories of an upper the way BuildKit's overlay
// differ writes them: a directory that the lowers do not have is not marked opaque at
// all, and one they have gets a whiteout for every name the lowers show in it that the
// upper does not have, instead of the opaque marker. Below an opaque directory nothing of
// the lowers shows, so every upper directory there (made again by the step, and not
// itself marked: `rm -rf /a && mkdir -p /a/b`) gets the same whiteouts; without them the
// layer applied over the lowers would bring back what the step deleted. (Both forms
// mean the same tree.) entries stay sorted.
func expandOpaque(entries []layerEntry, lowers []string) []layerEntry {
	var out []layerEntry
	inUpper := map[string]bool{}
	opaque := map[string]bool{}
	for _, e := range entries {
		inUpper[e.name] = true
		if e.kind == kindOpaque {
			opaque[path.Dir(e.name)] = true
		}
	}
	if len(opaque) == 0 {
		return entries
	}
	whiteouts := func(dir string, p string) {
		for _, n := range lowerNames(dir, lowers) {
			if !inUpper[path.Join(dir, n)] {
				out = append(out, layerEntry{name: path.Join(dir, whiteoutPrefix+n), path: p, kind: kindWhiteout})
			}
		}
	}
	for _, e := range entries {
		switch {
		case e.kind == kindOpaque && path.Dir(e.name) == ".": // the upper's root: nothing to compare it with
			out = append(out, e)
		case e.kind == kindOpaque:
			whiteouts(path.Dir(e.name), e.path)
		default:
			out = append(out, e)
			if e.kind == kindPlain && e.st.Mode&unix.S_IFMT == unix.S_IFDIR && !opaque[e.name] && belowOpaque(e.name, opaque) {
				whiteouts(e.name, e.path)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// belowOpaque reports whether a strict ancestor of name (other than the root) is opaque.
func belowOpaque(name string, opaque map[string]bool) bool {
	for d := path.Dir(name); d != "."; d = path.Dir(d) {
		if opaque[d] {
			return true
		}
	}
	return false
}

// lowerNames lists the names the lowers (top-most first) show in the directory dir, as
// overlayfs merges them: a whiteout hides a name below it, and an opaque directory, a
// non-directory or a deleted path ends the search downwards.
func lowerNames(dir string, lowers []string) []string {
	seen := map[string]bool{} // shown or hidden by a higher lower
	var names []string
	for _, l := range lowers {
		p := filepath.Join(l, filepath.FromSlash(dir))
		state := lowerDirState(l, dir)
		if state == dirGone {
			break
		}
		if state == dirAbsent {
			continue
		}
		des, err := os.ReadDir(p)
		if err != nil {
			break
		}
		for _, de := range des {
			n := de.Name()
			if seen[n] {
				continue
			}
			seen[n] = true
			if isWhiteout(filepath.Join(p, n)) {
				continue
			}
			names = append(names, n)
		}
		if opaque, err := isOpaque(p); err != nil || opaque {
			break
		}
	}
	sort.Strings(names)
	return names
}

type dirState int

const (
	dirAbsent dirState = iota // not in this lower; lower ones may have it
	dirHere                   // a directory in this lower
	dirGone                   // deleted or hidden here: no lower one shows
)

// lowerDirState says what one lower holds at dir.
func lowerDirState(lower, dir string) dirState {
	parts := strings.Split(dir, "/")
	for i := range parts {
		p := filepath.Join(lower, filepath.FromSlash(strings.Join(parts[:i+1], "/")))
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return dirAbsent
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return dirGone // a whiteout or a file hides the path
		}
		if i < len(parts)-1 {
			if opaque, err := isOpaque(p); err != nil || opaque {
				return dirGone
			}
		}
	}
	return dirHere
}

func isWhiteout(p string) bool {
	var st unix.Stat_t
	return unix.Lstat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// lstatBelow is Lstat of the slash-separated rel inside dir, descending only through real
// directories: a symlink (a layer's, which must never be followed onto the host's paths)
// or a file on the way is ENOTDIR.
func lstatBelow(dir, rel string, st *unix.Stat_t) error {
	p := dir
	parts := strings.Split(rel, "/")
	for i, part := range parts {
		p = filepath.Join(p, part)
		if err := unix.Lstat(p, st); err != nil {
			return err
		}
		if i < len(parts)-1 && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return unix.ENOTDIR
		}
	}
	return nil
}
