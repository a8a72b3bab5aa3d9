package fscopy

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hush-build/hush/internal/fsroot"
	"github.com/moby/patternmatcher"
	mode "github.com/tonistiigi/dchapes-mode"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// Owner is a numeric owner for copied files.
type Owner = fsroot.Owner

// Options are the COPY/ADD flags that change how files land.
type Options struct {
	// Chown (--chown) owns every copied file and created directory. It wins
	// over KeepOwner.
	Chown *Owner
	// KeepOwner keeps the source uid/gid (COPY --from=<stage>). Without it
	// and without Chown, copied files are owned by 0:0, as BuildKit does for
	// the build context.
	KeepOwner bool
	// Chmod (--chmod) is a raw octal mode (e.g. 0o755, 0o4755), at most
	// 0o7777, applied to every copied file and directory (not symlinks, not
	// created parents, not extracted archive entries).
	Chmod *os.FileMode
	// ExtractArchives (ADD): a local tar source (plain, gzip, bzip2, xz,
	// zstd) is extracted at the destination instead of copied.
	ExtractArchives bool
	// Exclude (COPY --exclude) patterns, matched relative to each source.
	Exclude []string
	// Parents (COPY --parents) keeps each match's path below the source root (or below
	// the pivot a "/./" in the pattern marks) at the destination.
	Parents bool
	// ChmodSymbolic (--chmod=u+x,go=r…) changes every copied file's and directory's mode
	// as chmod(1) would; nil: Chmod or the source's mode.
	ChmodSymbolic *mode.Set
}

func (o Options) validate() error {
	if o.Chmod != nil && *o.Chmod > 0o7777 {
		return fmt.Errorf("invalid chmod %o: must be between 0 and 07777", uint32(*o.Chmod))
	}
	if o.Chown != nil && (o.Chown.UID < 0 || o.Chown.GID < 0) {
		return fmt.Errorf("invalid chown %d:%d: negative id", o.Chown.UID, o.Chown.GID)
	}
	return nil
}

func (o Options) excludeMatcher() (*patternmatcher.PatternMatcher, error) {
	if len(o.Exclude) == 0 {
		return nil, nil
	}
	pm, err := patternmatcher.New(o.Exclude)
	if err != nil {
		return nil, fmt.Errorf("parsing exclude patterns: %w", err)
	}
	return pm, nil
}

// dirOwner owns directories created on the way to the destination.
func (o Options) dirOwner() Owner {
	if o.Chown != nil {
		return *o.Chown
	}
	return Owner{}
}

// Copy copies the sources named by patterns (paths relative to src.Root,
// wildcards *, ? and [...] allowed per component; "." or "/" is the whole
// root) to dest inside dstRoot. A relative dest is relative to workdir, an
// absolute path inside the image ("" means "/").
//
// As in BuildKit: a directory source copies its contents; a source that is
// itself a symlink is followed (inside the root) while symlinks below it are
// copied as symlinks; a file source lands as dest itself unless dest ends in
// "/" or is an existing directory; a pattern without wildcards that matches
// nothing is an error wrapping ErrNotFound, while wildcards may match nothing.
// Unlike BuildKit, several sources make dest a directory even without a
// trailing "/" (the documented rule, which BuildKit does not enforce).
//
// Every destination path is resolved by the kernel inside dstRoot (fsroot), so a
// symlink a build step planted in the destination cannot lead a write outside it.
func Copy(src Source, patterns []string, dstRoot, dest, workdir string, opts Options) error {
	if len(patterns) == 0 {
		return errors.New("copying: no source files were specified")
	}
	if err := opts.validate(); err != nil {
		return err
	}
	excl, err := opts.excludeMatcher()
	if err != nil {
		return err
	}
	t, err := openTree(src)
	if err != nil {
		return err
	}
	defer t.close()
	if opts.Parents {
		return copyParents(t, patterns, dstRoot, dest, workdir, opts, excl)
	}
	var matches []match
	for _, p := range patterns {
		ms, err := t.expand(p)
		if err != nil {
			return fmt.Errorf("copying: %w", err)
		}
		matches = append(matches, ms...)
	}
	if len(matches) == 0 {
		return nil
	}
	root, err := openRoot(dstRoot)
	if err != nil {
		return err
	}
	defer root.Close()
	destPath, destIsDir := destination(dest, workdir)
	if len(matches) > 1 {
		destIsDir = true
	}
	c := newCopier(root, opts)
	for _, m := range matches {
		if opts.ExtractArchives && m.info.Mode().IsRegular() {
			ok, err := isArchive(m.host)
			if err != nil {
				return fmt.Errorf("copying %q: %w", m.name, err)
			}
			if ok {
				if err := c.extractTo(m, destPath); err != nil {
					return err
				}
				continue
			}
		}
		if err := c.copyMatch(t, m, destPath, destIsDir, excl); err != nil {
			return err
		}
	}
	return nil
}

func copyParents(t *tree, patterns []string, dstRoot, dest, workdir string, opts Options, excl *patternmatcher.PatternMatcher) error {
	root, err := openRoot(dstRoot)
	if err != nil {
		return err
	}
	defer root.Close()
	destPath, _ := destination(dest, workdir)
	return newCopier(root, opts).copyParents(t, patterns, destPath, excl)
}

func openRoot(dstRoot string) (*fsroot.Root, error) {
	if dstRoot == "" {
		return nil, errors.New("opening destination: empty root")
	}
	root, err := fsroot.Open(dstRoot)
	if err != nil {
		return nil, fmt.Errorf("opening destination: %w", err)
	}
	return root, nil
}

// destination makes dest absolute against workdir and reports whether its
// spelling asks for a directory ("dir/", "dir/.", ".", "").
func destination(dest, workdir string) (string, bool) {
	dest = filepath.ToSlash(dest)
	isDir := dest == "" || dest == "." || strings.HasSuffix(dest, "/") || strings.HasSuffix(dest, "/.")
	if !path.IsAbs(dest) {
		dest = path.Join("/", filepath.ToSlash(workdir), dest)
	}
	dest = path.Clean(dest)
	return dest, isDir || dest == "/"
}

type devIno struct{ dev, ino uint64 }

// copier carries the state of one Copy call. Destination names are paths inside root.
type copier struct {
	root  *fsroot.Root
	opts  Options
	links map[devIno]string // source inode -> first destination, for hard links
	// files copies regular files' contents in parallel (creating a file through overlayfs
	// is mostly waiting on the kernel); directory metadata is set once they are done.
	files  *errgroup.Group
	afters []func() error
	// fresh are the directories this copyMatch created: nothing is below them but what
	// it puts there, so an entry's name needs no lookup before it is created.
	fresh map[string]bool
	// dirs are open roots of destination directories, so a file is created by its name
	// in an open directory rather than by resolving its whole path again (through
	// overlayfs, the slow part); at most maxOpenDirs, closed when the copy ends.
	dirs map[string]*fsroot.Root
	bufs *sync.Pool // copy buffers for small files
}

func newCopier(root *fsroot.Root, opts Options) *copier {
	return &copier{root: root, opts: opts, links: map[devIno]string{},
		bufs: &sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
}

// begin starts one copy: a fresh worker group, no pending metadata, no directory known
// to be its own.
func (c *copier) begin() {
	c.files = &errgroup.Group{}
	c.files.SetLimit(copyWorkers)
	c.afters = c.afters[:0]
	c.fresh = map[string]bool{}
}

// finish waits for the file copies, then sets directory metadata, children before
// parents; err is the walk's, returned first.
func (c *copier) finish(err error) error {
	if werr := c.files.Wait(); err == nil {
		err = werr
	}
	for _, after := range c.afters {
		if err != nil {
			break
		}
		err = after()
	}
	return err
}

// maxOpenDirs bounds the directory descriptors one copy keeps open.
const maxOpenDirs = 64

// copyWorkers is how many files are copied at once.
const copyWorkers = 8

func (c *copier) copyMatch(t *tree, m match, destPath string, destIsDir bool, excl *patternmatcher.PatternMatcher) error {
	target, err := c.matchTarget(m, destPath, destIsDir)
	if err != nil {
		return fmt.Errorf("copying %q: %w", m.name, err)
	}
	c.begin()
	defer c.closeDirs()
	err = t.walk(m, excl, func(e entry) (func() error, error) {
		if e.rel == "" && e.info.IsDir() {
			return nil, nil // the destination dir itself keeps its metadata
		}
		after, err := c.copyEntry(e, path.Join(target, e.rel))
		if after == nil || err != nil {
			return nil, err
		}
		// Directory metadata (mtime above all) is set after every file below it is
		// written, children before parents.
		return func() error { c.afters = append(c.afters, after); return nil }, nil
	})
	err = c.finish(err)
	if err != nil {
		return fmt.Errorf("copying %q: %w", m.name, err)
	}
	return nil
}

// matchTarget is where match m lands for destPath, with its parent directories made.
func (c *copier) matchTarget(m match, destPath string, destIsDir bool) (string, error) {
	destPath, err := c.root.Resolve(destPath)
	if err != nil {
		return "", err
	}
	fi, err := c.root.Lstat(destPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	exists := err == nil
	switch {
	case m.info.IsDir():
		if exists && !fi.IsDir() {
			return "", fmt.Errorf("cannot copy to non-directory: %s", show(destPath))
		}
		return destPath, c.ensureDir(destPath)
	case destIsDir:
		return path.Join(destPath, m.name), c.ensureDir(destPath)
	case exists && fi.IsDir():
		return path.Join(destPath, m.name), nil
	}
	return destPath, c.ensureDir(path.Dir(destPath))
}

// ensureDir creates the missing directories of name inside the root, mode 0755 (the
// --chmod mode when it is octal, as in BuildKit), owned by the chown owner or 0:0.
func (c *copier) ensureDir(name string) error {
	perm := os.FileMode(0o755)
	if c.opts.Chmod != nil {
		perm = *c.opts.Chmod & 0o777
	}
	_, err := c.root.MkdirAll(name, perm, c.opts.dirOwner())
	return err
}

// copyEntry copies one source entry to target, whose parent exists.
func (c *copier) copyEntry(e entry, target string) (func() error, error) {
	st, ok := e.info.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, fmt.Errorf("copying %s: no stat information", e.host)
	}
	var existing fs.FileInfo
	exists := false
	if !c.fresh[path.Dir(target)] {
		var lerr error
		existing, lerr = c.root.Lstat(target)
		if lerr != nil && !errors.Is(lerr, fs.ErrNotExist) {
			return nil, fmt.Errorf("copying to %s: %w", show(target), lerr)
		}
		exists = lerr == nil
	}
	mode := e.info.Mode()
	if mode.IsDir() {
		if exists && !existing.IsDir() {
			return nil, fmt.Errorf("cannot copy to non-directory: %s", show(target))
		}
		if !exists {
			if err := c.root.Mkdir(target, 0o700); err != nil {
				return nil, fmt.Errorf("creating directory: %w", err)
			}
			c.fresh[target] = true
		}
		return func() error { return c.setMeta(target, st, false) }, nil
	}
	if exists {
		if existing.IsDir() {
			return nil, fmt.Errorf("cannot replace directory %s with a file", show(target))
		}
		if err := c.root.Remove(target); err != nil {
			return nil, fmt.Errorf("replacing %s: %w", show(target), err)
		}
	}
	return nil, c.createEntry(e, target, st)
}

// createEntry makes the non-directory entry e at target (absent).
func (c *copier) createEntry(e entry, target string, st *syscall.Stat_t) error {
	mode := e.info.Mode()
	switch {
	case mode.IsRegular():
		key := devIno{dev: uint64(st.Dev), ino: st.Ino}
		if first, ok := c.links[key]; ok && st.Nlink > 1 {
			if err := c.root.Link(first, target); err != nil {
				return fmt.Errorf("linking %s: %w", show(target), err)
			}
			return nil
		}
		dir, err := c.dirRoot(path.Dir(target))
		if err != nil {
			return err
		}
		if st.Nlink > 1 || c.files == nil {
			c.links[key] = target
			return c.copyFileMeta(e.host, dir, target, st)
		}
		c.files.Go(func() error { return c.copyFileMeta(e.host, dir, target, st) })
		return nil
	case mode&fs.ModeSymlink != 0:
		link, err := os.Readlink(e.host)
		if err != nil {
			return fmt.Errorf("reading symlink: %w", err)
		}
		if err := c.root.Symlink(link, target); err != nil {
			return fmt.Errorf("creating symlink: %w", err)
		}
		return c.setMeta(target, st, true)
	case mode&(fs.ModeDevice|fs.ModeNamedPipe) != 0:
		if err := c.root.Mknod(target, st.Mode, st.Rdev); err != nil {
			return fmt.Errorf("creating device %s: %w", show(target), err)
		}
		return c.setMeta(target, st, false)
	}
	return nil // sockets and other irregular files are not copied
}

// copyFileMeta copies the regular file src to target (absent), created by its name in
// dir (the open root of target's directory), and sets owner, mode and times through the
// new file's descriptor, so the destination path (through overlayfs, the slow part) is
// not looked up again.
func (c *copier) copyFileMeta(src string, dir *fsroot.Root, target string, st *syscall.Stat_t) error {
	in, err := os.OpenFile(src, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("opening source file: %w", err)
	}
	defer in.Close()
	out, err := dir.OpenFile(path.Base(target), os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("creating file %s: %w", show(target), err)
	}
	err = func() error {
		if err := copyContents(out, in, st.Size, c.bufs); err != nil {
			return fmt.Errorf("copying file contents: %w", err)
		}
		own := c.owner(st)
		fd := int(out.Fd())
		if err := unix.Fchown(fd, own.UID, own.GID); err != nil {
			return fmt.Errorf("setting owner of %s: %w", show(target), err)
		}
		// chmod after chown: chown clears set-id bits.
		if err := unix.Fchmod(fd, c.perm(st)); err != nil {
			return fmt.Errorf("setting mode of %s: %w", show(target), err)
		}
		ts := []unix.Timespec{unix.NsecToTimespec(st.Atim.Nano()), unix.NsecToTimespec(st.Mtim.Nano())}
		if err := unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH); err != nil {
			return fmt.Errorf("setting times of %s: %w", show(target), err)
		}
		return nil
	}()
	if cerr := out.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing file: %w", cerr)
	}
	return err
}

// smallFile is the size up to which a file's contents are copied through a pooled
// buffer (no allocation per file); larger ones go through io.Copy, which may use
// copy_file_range or splice.
const smallFile = 256 << 10

// copyContents copies in to out; size is in's size when it was listed.
func copyContents(out, in *os.File, size int64, bufs *sync.Pool) error {
	if size > smallFile {
		_, err := io.Copy(out, in)
		return err
	}
	buf := bufs.Get().(*[]byte)
	defer bufs.Put(buf)
	// Plain Reader and Writer: io.CopyBuffer would otherwise use the files' own
	// ReadFrom/WriteTo, which allocate a buffer of their own when they fall back.
	_, err := io.CopyBuffer(struct{ io.Writer }{out}, struct{ io.Reader }{in}, *buf)
	return err
}

// dirRoot returns an open root of the destination directory dir, keeping at most
// maxOpenDirs open: past that, it waits for the file copies in flight and closes them.
func (c *copier) dirRoot(dir string) (*fsroot.Root, error) {
	if r, ok := c.dirs[dir]; ok {
		return r, nil
	}
	if len(c.dirs) >= maxOpenDirs && c.files != nil {
		if err := c.files.Wait(); err != nil {
			return nil, err
		}
		c.closeDirs()
		c.files = &errgroup.Group{}
		c.files.SetLimit(copyWorkers)
	}
	r, err := c.root.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", show(dir), err)
	}
	if c.dirs == nil {
		c.dirs = map[string]*fsroot.Root{}
	}
	c.dirs[dir] = r
	return r, nil
}

func (c *copier) closeDirs() {
	for _, r := range c.dirs {
		r.Close()
	}
	c.dirs = nil
}

// owner is who a copied entry belongs to.
func (c *copier) owner(st *syscall.Stat_t) Owner {
	switch {
	case c.opts.Chown != nil:
		return *c.opts.Chown
	case c.opts.KeepOwner:
		return Owner{UID: int(st.Uid), GID: int(st.Gid)}
	}
	return Owner{}
}

// perm is the permission (and set-id) bits a copied entry gets.
func (c *copier) perm(st *syscall.Stat_t) uint32 {
	switch {
	case c.opts.ChmodSymbolic != nil:
		return applySymbolic(*c.opts.ChmodSymbolic, st.Mode)
	case c.opts.Chmod != nil:
		return uint32(*c.opts.Chmod)
	}
	return st.Mode & 0o7777
}

// setIDBits pairs the unix set-id and sticky bits with Go's.
var setIDBits = [...]struct {
	unix uint32
	fs   fs.FileMode
}{{unix.S_ISUID, fs.ModeSetuid}, {unix.S_ISGID, fs.ModeSetgid}, {unix.S_ISVTX, fs.ModeSticky}}

// applySymbolic applies a symbolic mode to the unix mode bits m and returns the new
// permission and set-id bits.
func applySymbolic(set mode.Set, m uint32) uint32 {
	fm := fs.FileMode(m & 0o777)
	if m&unix.S_IFMT == unix.S_IFDIR {
		fm |= fs.ModeDir
	}
	for _, b := range setIDBits {
		if m&b.unix != 0 {
			fm |= b.fs
		}
	}
	fm = set.Apply(fm)
	out := uint32(fm.Perm())
	for _, b := range setIDBits {
		if fm&b.fs != 0 {
			out |= b.unix
		}
	}
	return out
}

// setMeta sets owner, mode and times of target from the source stat st.
func (c *copier) setMeta(target string, st *syscall.Stat_t, isLink bool) error {
	own := c.owner(st)
	if err := c.root.Lchown(target, own.UID, own.GID); err != nil {
		return fmt.Errorf("setting owner: %w", err)
	}
	if !isLink {
		// chmod(2) after chown(2): chown clears set-id bits.
		if err := c.root.Chmod(target, fsroot.FileMode(c.perm(st))); err != nil {
			return fmt.Errorf("setting mode: %w", err)
		}
	}
	if err := c.root.Chtimes(target, time.Unix(0, st.Atim.Nano()), time.Unix(0, st.Mtim.Nano())); err != nil {
		return fmt.Errorf("setting times: %w", err)
	}
	return nil
}

// show names a destination path as seen from inside the root.
func show(name string) string { return "/" + fsroot.Clean(name) }
