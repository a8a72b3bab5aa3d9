package audit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gofrs/flock"
)

// Ledger remembers which layers were audited clean against which secret values, by keyed
// fingerprints of the values (never the values, never a plain hash of them), so that a
// build reads a layer again only when it carries a value the layer was not audited for.
// One small file per layer digest; a missing or unreadable record means "not audited".
// Several hush processes share it: a change (Record, Forget) happens under an flock on
// dir/lock and lands by rename, so no build's record is lost to another's.
type Ledger struct{ dir string }

// OpenLedger opens (creating) the ledger kept in dir.
func OpenLedger(dir string) (*Ledger, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("opening audit ledger: %w", err)
	}
	return &Ledger{dir: dir}, nil
}

func (l *Ledger) path(layer string) (string, error) {
	hex, ok := strings.CutPrefix(layer, "sha256:")
	if !ok || len(hex) != 64 || strings.ContainsAny(hex, "/.") {
		return "", fmt.Errorf("audit ledger: invalid layer digest %q", layer)
	}
	return filepath.Join(l.dir, hex), nil
}

func (l *Ledger) read(layer string) []string {
	p, err := l.path(layer)
	if err != nil {
		return nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}

// Clean reports whether layer was audited clean against every fingerprint in fps.
func (l *Ledger) Clean(layer string, fps []string) bool {
	have := l.read(layer)
	for _, fp := range fps {
		if !slices.Contains(have, fp) {
			return false
		}
	}
	return len(fps) > 0
}

// lock takes the ledger's lock for one change. Each call opens the lock file anew, and an
// flock belongs to the open file: goroutines with their own Record calls exclude each
// other as processes do.
func (l *Ledger) lock() (func(), error) {
	fl := flock.New(filepath.Join(l.dir, "lock"), flock.SetPermissions(0o600))
	if err := fl.Lock(); err != nil {
		return nil, fmt.Errorf("locking the audit ledger: %w", err)
	}
	return func() { _ = fl.Unlock() }, nil
}

// Record notes that layer was audited clean against fps (added to what it was before).
// A record that already holds every fingerprint is left as it is.
func (l *Ledger) Record(layer string, fps []string) error {
	p, err := l.path(layer)
	if err != nil {
		return err
	}
	unlock, err := l.lock()
	if err != nil {
		return err
	}
	defer unlock()
	have := l.read(layer)
	if !slices.ContainsFunc(fps, func(fp string) bool { return !slices.Contains(have, fp) }) {
		return nil
	}
	all := append(have, fps...)
	slices.Sort(all)
	all = slices.Compact(all)
	tmp, err := os.CreateTemp(l.dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("recording audit of %s: %w", layer, err)
	}
	_, werr := tmp.WriteString(strings.Join(all, "\n") + "\n")
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), p)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("recording audit of %s: %w", layer, werr)
	}
	return nil
}

// Forget drops what the ledger knows of layer (a purged layer).
func (l *Ledger) Forget(layer string) error {
	p, err := l.path(layer)
	if err != nil {
		return err
	}
	unlock, err := l.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("forgetting audit of %s: %w", layer, err)
	}
	return nil
}
