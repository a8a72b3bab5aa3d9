// Package lease lets a running build hold the blobs and unpacked layers it uses, so that
// removing an image (hush rmi), a purge by another build, hush prune or the garbage
// collector never deletes them under it. A lease is a file listing references, flocked by
// the build for as long as it runs; a removal that meets a held reference records it as
// pending instead, and whoever removes things next (the build when it ends, any command that
// opens the store) finishes the removal once no lease holds it.
//
// Holding and removing never interleave: Hold adds references under a shared lock, and a
// remover decides and removes inside Exclusive, which takes that lock exclusively. So a
// holder that checks, after Hold, that what it holds is still there, and a remover that
// checks inside Exclusive that nothing holds what it removes, cannot both succeed.
//
// It owns the lease files, the lock and the pending list. It must never hold a lease
// file's lock on behalf of a process that has died (the kernel drops flocks with their
// owner), and never decide on its own that something is unused: the stores that own blobs
// and snapshots do.
package lease

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
	"golang.org/x/sys/unix"
)

const (
	pendingDir = "pending"
	lockFile   = "gc.lock"
)

// Leases is the set of leases kept in one directory of the state dir.
type Leases struct{ dir string }

// Open opens (creating) the leases kept in dir.
func Open(dir string) (*Leases, error) {
	if err := os.MkdirAll(filepath.Join(dir, pendingDir), 0o700); err != nil {
		return nil, fmt.Errorf("opening leases: %w", err)
	}
	return &Leases{dir: dir}, nil
}

// Lease is one build's hold on what it uses.
type Lease struct {
	ls   *Leases
	mu   sync.Mutex
	f    *os.File
	id   string
	held map[string]bool
}

// Acquire starts a lease, held until Release or the death of this process.
func (ls *Leases) Acquire() (*Lease, error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	// The file is named *.lease only once locked: Held never takes a live lease for dead.
	name := filepath.Join(ls.dir, id)
	f, err := os.OpenFile(name+".new", os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("starting a lease: %w", err)
	}
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if err == nil {
		err = os.Rename(name+".new", name+".lease")
	}
	if err != nil {
		f.Close()
		os.Remove(name + ".new")
		return nil, fmt.Errorf("locking a lease: %w", err)
	}
	return &Lease{ls: ls, f: f, id: id, held: map[string]bool{}}, nil
}

// ID names the lease among the live ones (Live); "" for a nil lease.
func (l *Lease) ID() string {
	if l == nil {
		return ""
	}
	return l.id
}

// Hold adds refs ("blob sha256:…", "layer sha256:…") to the lease (a dropped one again).
// It waits while a remover is inside Exclusive: a caller that then finds what it holds
// still there keeps it until Release. A nil lease holds nothing.
func (l *Lease) Hold(refs ...string) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	seen := map[string]bool{}
	for _, r := range refs {
		if !l.held[r] && !seen[r] {
			seen[r] = true
			b.WriteString(r + "\n")
		}
	}
	if b.Len() == 0 {
		return nil
	}
	if l.f == nil {
		return errors.New("holding references: the lease has ended")
	}
	unlock, err := l.ls.lock((*flock.Flock).RLock)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := l.f.WriteString(b.String()); err != nil {
		return fmt.Errorf("holding %d references: %w", len(refs), err)
	}
	for r := range seen {
		l.held[r] = true
	}
	return nil
}

// Drop gives up refs (the build is done with them, e.g. it is about to purge them). It
// appends "-REF" lines, so a reader never sees the lease emptier than it is.
func (l *Lease) Drop(refs ...string) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, r := range refs {
		if l.held[r] {
			delete(l.held, r)
			b.WriteString("-" + r + "\n")
		}
	}
	if b.Len() == 0 || l.f == nil {
		return nil
	}
	if _, err := l.f.WriteString(b.String()); err != nil {
		return fmt.Errorf("dropping references: %w", err)
	}
	return nil
}

// Release ends the lease. Safe to call twice and on nil.
func (l *Lease) Release() {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		os.Remove(l.ls.leasePath(l.id))
		l.f.Close()
		l.f = nil
	}
}

func (ls *Leases) leasePath(id string) string { return filepath.Join(ls.dir, id+".lease") }

// lock takes the holders' lock (RLock: Hold) or the removers' (Lock: Exclusive). Each
// call opens the lock file anew, and an flock belongs to the open file: goroutines of one
// process exclude each other as other processes do.
func (ls *Leases) lock(take func(*flock.Flock) error) (func(), error) {
	fl := flock.New(filepath.Join(ls.dir, lockFile), flock.SetPermissions(0o600))
	if err := take(fl); err != nil {
		return nil, fmt.Errorf("taking the lease lock: %w", err)
	}
	return func() { _ = fl.Unlock() }, nil
}

// Live reports whether the lease id is held by a running process.
func (ls *Leases) Live(id string) bool {
	if id == "" || strings.ContainsAny(id, "/.") {
		return false
	}
	f, err := os.Open(ls.leasePath(id))
	if err != nil {
		return false
	}
	defer f.Close()
	return unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB) != nil
}

// Held returns every reference a live lease holds. Lease files of dead builds are removed.
// The answer may be out of date as soon as it returns: to remove what it does not list,
// use Exclusive.
func (ls *Leases) Held() (map[string]bool, error) {
	ents, err := os.ReadDir(ls.dir)
	if err != nil {
		return nil, fmt.Errorf("reading leases: %w", err)
	}
	held := map[string]bool{}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".new") {
			// A build killed between creating its lease and locking it.
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Minute {
				os.Remove(filepath.Join(ls.dir, e.Name()))
			}
			continue
		}
		if !strings.HasSuffix(e.Name(), ".lease") {
			continue
		}
		if err := ls.readLive(filepath.Join(ls.dir, e.Name()), held); err != nil {
			return nil, err
		}
	}
	return held, nil
}

// readLive adds the references of the lease file p to held if its owner lives, and
// removes the file otherwise.
func (ls *Leases) readLive(p string, held map[string]bool) error {
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading lease: %w", err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err == nil {
		os.Remove(p) // nobody holds it: its build died
		return nil
	}
	refs := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if r, dropped := strings.CutPrefix(sc.Text(), "-"); dropped {
			delete(refs, r)
		} else {
			refs[sc.Text()] = true
		}
	}
	for r := range refs {
		held[r] = true
	}
	return sc.Err()
}

// View is what a remover sees inside Exclusive: every reference live leases hold, which
// cannot change until Exclusive returns.
type View struct {
	ls   *Leases
	held map[string]bool
}

// Exclusive runs fn while no lease can hold anything new, with what live leases hold. fn
// decides and removes; it must not call Hold or Exclusive (that would wait for itself).
// Keep it short (unlinks and renames): every build's Hold waits for it.
func (ls *Leases) Exclusive(fn func(v *View) error) error {
	unlock, err := ls.lock((*flock.Flock).Lock)
	if err != nil {
		return err
	}
	defer unlock()
	held, err := ls.Held()
	if err != nil {
		return err
	}
	return fn(&View{ls: ls, held: held})
}

// Held reports whether a live lease holds ref.
func (v *View) Held(ref string) bool { return v.held[ref] }

// Defer records that ref should be removed once no lease holds it.
func (v *View) Defer(ref string) error {
	if err := os.WriteFile(v.ls.pendingPath(ref), nil, 0o600); err != nil {
		return fmt.Errorf("deferring removal of %s: %w", ref, err)
	}
	return nil
}

// Pending lists the deferred removals of references starting with prefix that no live
// lease holds any more, and forgets them: the caller removes each (if nothing else needs
// it) before Exclusive returns.
func (v *View) Pending(prefix string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(v.ls.dir, pendingDir))
	if err != nil {
		return nil, fmt.Errorf("reading pending removals: %w", err)
	}
	var out []string
	for _, e := range ents {
		ref, err := hex.DecodeString(e.Name())
		if err != nil || v.held[string(ref)] || !strings.HasPrefix(string(ref), prefix) {
			continue
		}
		out = append(out, string(ref))
		os.Remove(filepath.Join(v.ls.dir, pendingDir, e.Name()))
	}
	return out, nil
}

func (ls *Leases) pendingPath(ref string) string {
	return filepath.Join(ls.dir, pendingDir, hex.EncodeToString([]byte(ref)))
}

// BlobRef and LayerRef spell the references leases hold.
func BlobRef(digest string) string  { return "blob " + digest }
func LayerRef(diffID string) string { return "layer " + diffID }
