package snapshot

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

type entryKind int

const (
	kindPlain    entryKind = iota // file, dir, symlink, device, fifo as on disk
	kindWhiteout                  // 0/0 char device, written as .wh.<name>
	kindOpaque                    // synthetic <dir>/.wh..wh..opq for an opaque dir
)

// layerEntry is one tar entry to write, collected before writing so entries
// can be sorted by their final name.
type layerEntry struct {
	name string // tar name without trailing slash
	path string // file on disk this entry describes
	kind entryKind
	st   unix.Stat_t
}

// WriteLayer writes the deterministic OCI layer tar of dir, an overlay upper
// or unpacked layer dir, to out. Entries are sorted by name in byte order;
// whiteouts and opaque dirs are translated to OCI .wh. files; owners, modes,
// mtimes (seconds), xattrs, hard links, symlinks, devices and fifos are kept;
// sockets are skipped. The same dir always yields the same bytes.
func WriteLayer(dir string, out io.Writer) error {
	entries, err := collectEntries(dir)
	if err != nil {
		return fmt.Errorf("writing layer of %s: %w", dir, err)
	}
	return writeEntries(dir, entries, out)
}

// writeUpper is WriteLayer for an overlay upper over lowers (top-most first): directories
// that differ from the lowers only in time are left out of the tar and removed from the
// upper (dropUnchangedDirs), so that the upper stays what the tar holds.
func writeUpper(dir string, lowers []string, out io.Writer) error {
	entries, err := collectEntries(dir)
	if err != nil {
		return fmt.Errorf("writing layer of %s: %w", dir, err)
	}
	entries, dropped := dropUnchangedDirs(expandOpaque(entries, lowers), lowers)
	if err := writeEntries(dir, entries, out); err != nil {
		return err
	}
	for i := len(dropped) - 1; i >= 0; i-- { // children first
		// One still holding what no tar carries (a socket) stays; only its time differs.
		if err := os.Remove(dropped[i]); err != nil && !errors.Is(err, unix.ENOTEMPTY) {
			return fmt.Errorf("removing unchanged directory from %s: %w", dir, err)
		}
	}
	return nil
}

func writeEntries(dir string, entries []layerEntry, out io.Writer) error {
	tw := tar.NewWriter(out)
	links := map[[2]uint64]string{} // (dev, ino) -> first name written
	for _, e := range entries {
		if err := writeEntry(tw, e, links); err != nil {
			return fmt.Errorf("writing layer of %s: entry %q: %w", dir, e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("writing layer of %s: %w", dir, err)
	}
	return nil
}

func collectEntries(dir string) ([]layerEntry, error) {
	var entries []layerEntry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		if rel == "." {
			// The root itself has no entry; only its opaqueness matters.
			if st.Mode&unix.S_IFMT == unix.S_IFDIR {
				return addOpaque(&entries, p, "", st)
			}
			return fmt.Errorf("%s is not a directory", dir)
		}
		base := path.Base(rel)
		if strings.HasPrefix(base, whiteoutPrefix) {
			return fmt.Errorf("file %q uses the reserved whiteout prefix %q", rel, whiteoutPrefix)
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFSOCK:
			return nil
		case unix.S_IFCHR:
			if st.Rdev == 0 {
				entries = append(entries, layerEntry{
					name: path.Join(path.Dir(rel), whiteoutPrefix+base), path: p, kind: kindWhiteout, st: st,
				})
				return nil
			}
		case unix.S_IFDIR:
			entries = append(entries, layerEntry{name: rel, path: p, st: st})
			return addOpaque(&entries, p, rel, st)
		}
		entries = append(entries, layerEntry{name: rel, path: p, st: st})
		return nil
	})
	if err != nil {
		return nil, err
	}
	// A parent's name is a prefix of its children's, so byte order also puts
	// parents first.
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	return entries, nil
}

func addOpaque(entries *[]layerEntry, p, rel string, st unix.Stat_t) error {
	opaque, err := isOpaque(p)
	if err != nil {
		return err
	}
	if opaque {
		*entries = append(*entries, layerEntry{name: path.Join(rel, opaqueMarker), path: p, kind: kindOpaque, st: st})
	}
	return nil
}

func isOpaque(p string) (bool, error) {
	for _, name := range []string{opaqueXattr, userOpaqueXattr, fuseOpaqueXattr} {
		v, err := lgetxattr(p, name)
		if err == nil && string(v) == "y" {
			return true, nil
		}
		if err != nil && !isNoXattr(err) {
			return false, err
		}
	}
	return false, nil
}

func isNoXattr(err error) bool {
	return errors.Is(err, unix.ENODATA) || errors.Is(err, unix.ENOTSUP)
}

func writeEntry(tw *tar.Writer, e layerEntry, links map[[2]uint64]string) error {
	st := e.st
	hdr := &tar.Header{
		Name:    e.name,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: time.Unix(st.Mtim.Sec, 0),
		Format:  tar.FormatPAX,
	}
	switch e.kind {
	case kindWhiteout, kindOpaque:
		hdr.Typeflag = tar.TypeReg
		if e.kind == kindOpaque {
			// Fully fixed: the root dir's own metadata is not in the tar,
			// so copying it here would not survive a round trip.
			hdr.Mode, hdr.Uid, hdr.Gid, hdr.ModTime = 0, 0, 0, time.Unix(0, 0)
		}
		return tw.WriteHeader(hdr)
	}

	xattrs, err := listXattrs(e.path)
	if err != nil {
		return err
	}
	for k, v := range xattrs {
		if !isOverlayXattr(k) {
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = map[string]string{}
			}
			hdr.PAXRecords[paxXattrPrefix+k] = v
		}
	}

	ifmt := st.Mode & unix.S_IFMT
	if ifmt != unix.S_IFDIR && st.Nlink > 1 {
		key := [2]uint64{st.Dev, st.Ino}
		if first, ok := links[key]; ok {
			hdr.Typeflag = tar.TypeLink
			hdr.Linkname = first
			return tw.WriteHeader(hdr)
		}
		links[key] = e.name
	}

	switch ifmt {
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
	case unix.S_IFLNK:
		target, err := os.Readlink(e.path)
		if err != nil {
			return err
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if ifmt == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor = int64(unix.Major(st.Rdev))
		hdr.Devminor = int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	case unix.S_IFREG:
		hdr.Typeflag = tar.TypeReg
		hdr.Size = st.Size
		return writeFile(tw, hdr, e.path)
	default:
		return fmt.Errorf("unsupported file type %#o", ifmt)
	}
	return tw.WriteHeader(hdr)
}

func writeFile(tw *tar.Writer, hdr *tar.Header, p string) error {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	// Exactly the stat'ed size: a file that shrank fails here instead of
	// producing a corrupt tar; one that grew is cut at the stat'ed size.
	if _, err := io.CopyN(tw, f, hdr.Size); err != nil {
		return fmt.Errorf("copying %s: %w", p, err)
	}
	return nil
}
