package secret

import (
	"github.com/hush-build/hush/internal/sshagent"
	"golang.org/x/sys/unix"

	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"

	"github.com/hush-build/hush/internal/secretfile"
)

// MaxSize is the largest secret hush accepts. BuildKit's 500 KiB cap came from gRPC;
// hush keeps values in memory and allows much more.
const MaxSize = 16 << 20

// ErrNotFound is returned for an id no --secret supplied.
var ErrNotFound = errors.New("secret not found")

// Provider hands out secret values by id.
type Provider interface {
	Get(ctx context.Context, id string) ([]byte, error)
}

// Set is the one home of a command's secret values: the --secret values, each KEY=value of
// a secret env file, and the --ssh key files, each read once into memory. It hands out what
// each consumer needs — a copy of one value for a mount (Get), the compiled masks for
// everything printed (Masks, Redact), the values for the audit and lint (Values), keyed
// fingerprints (Fingerprint, ValueFingerprints) — and Wipe zeroes all of it once.
type Set struct {
	mu      sync.Mutex
	entries map[string]*entry
	masks   *Masks   // compiled on first use; recompiled after a value is added
	old     []*Masks // earlier compilations, still used by writers made from them
	files   []FileID // the files values were read from
}

// FileID names a file a value was read from (device and inode), so that nothing else
// caches a plain hash of its content (builder's context-file sums skip it).
type FileID struct{ Dev, Ino uint64 }

// Files lists the files the set read values from.
func (s *Set) Files() []FileID {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]FileID(nil), s.files...)
}

func (s *Set) readFrom(path string) {
	var st unix.Stat_t
	if path == "" || unix.Stat(path, &st) != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files = append(s.files, FileID{Dev: uint64(st.Dev), Ino: st.Ino})
}

type entry struct {
	value   []byte
	rebuild bool
	kind    string // "secret", "env file", "ssh key"
}

var _ Provider = (*Set)(nil)

// NewSet returns an empty set.
func NewSet() *Set { return &Set{entries: map[string]*entry{}} }

// Load reads every spec's value once into a new set. Later specs with the same id win.
// lookupEnv is os.LookupEnv in production.
func Load(specs []Spec, lookupEnv func(string) (string, bool)) (*Set, error) {
	s := NewSet()
	if err := s.AddSpecs(specs, lookupEnv); err != nil {
		s.Wipe()
		return nil, err
	}
	return s, nil
}

// AddSpecs reads every spec's value once. Later specs with the same id win.
func (s *Set) AddSpecs(specs []Spec, lookupEnv func(string) (string, bool)) error {
	for _, sp := range specs {
		v, src, err := read(sp, lookupEnv)
		if err != nil {
			return err
		}
		s.readFrom(src)
		s.put(sp.ID, &entry{value: v, rebuild: sp.RebuildOnChange, kind: "secret"})
	}
	return nil
}

// CopyFrom adds, under id, a copy of the value src holds under srcID (so that several
// builds of one command share one read of a source); the files src read values from are
// noted as this set's too. Each set wipes its own copy.
func (s *Set) CopyFrom(src *Set, srcID, id string) error {
	src.mu.Lock()
	e, ok := src.entries[srcID]
	var cp *entry
	if ok {
		cp = &entry{value: append([]byte(nil), e.value...), rebuild: e.rebuild, kind: e.kind}
	}
	files := append([]FileID(nil), src.files...)
	src.mu.Unlock()
	if !ok {
		return fmt.Errorf("secret %s: %w", srcID, ErrNotFound)
	}
	s.put(id, cp)
	s.mu.Lock()
	s.files = append(s.files, files...)
	s.mu.Unlock()
	return nil
}

// AddEnvFile makes each KEY=value line of the env file at path (plain or age-encrypted)
// a secret with id KEY.
func (s *Set) AddEnvFile(path string, lookupEnv func(string) (string, bool)) error {
	vars, err := ReadEnvFile(path, lookupEnv)
	if err != nil {
		return err
	}
	s.readFrom(path)
	for _, v := range vars {
		s.put(v.Key, &entry{value: v.Value, kind: "env file"})
	}
	return nil
}

// AddValue makes value the secret id; the set takes value over (and wipes it with the
// rest). For values a caller decrypted itself (a Codeship pipeline's encrypted files).
func (s *Set) AddValue(id string, value []byte) {
	s.put(id, &entry{value: value, kind: "secret"})
}

// AddKeyFiles reads the --ssh private key files among paths (sockets are left alone)
// once, and keeps them so that they are masked and audited like any secret; the agent
// then parses them from the set (KeyFile).
func (s *Set) AddKeyFiles(agentID string, paths []string) error {
	for _, p := range paths {
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			continue // a socket, or an error the agent reports
		}
		data, err := sshagent.ReadKeyFile(p)
		if err != nil {
			return fmt.Errorf("--ssh %s: %w", agentID, err)
		}
		s.readFrom(p)
		s.put(keyFileID(agentID, p), &entry{value: data, kind: "ssh key"})
	}
	return nil
}

// KeyFile returns a copy of the key file AddKeyFiles read for agentID at path; the caller
// wipes it.
func (s *Set) KeyFile(agentID, path string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[keyFileID(agentID, path)]
	if !ok || e.kind != "ssh key" {
		return nil, fmt.Errorf("key file %s was not read for --ssh %s", path, agentID)
	}
	return append([]byte(nil), e.value...), nil
}

// keyFileID names a key file among the set's values (audit findings show it).
func keyFileID(agentID, path string) string { return "ssh:" + agentID + ":" + path }

// put stores e under id, wiping what it replaces, and drops the compiled masks.
func (s *Set) put(id string, e *entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.entries[id]; ok {
		clear(old.value)
	}
	s.entries[id] = e
	if s.masks != nil {
		s.old = append(s.old, s.masks)
		s.masks = nil
	}
}

// read returns the value of sp and the file it came from ("" for the environment).
func read(sp Spec, lookupEnv func(string) (string, bool)) ([]byte, string, error) {
	src, env := sp.Src, sp.Env
	if src == "" && env == "" {
		if _, ok := lookupEnv(sp.ID); ok {
			env = sp.ID
		} else {
			src = sp.ID
		}
	}
	if env != "" {
		v, ok := lookupEnv(env)
		if !ok {
			return nil, "", fmt.Errorf("secret %s: environment variable %s is not set", sp.ID, env)
		}
		if len(v) > MaxSize {
			return nil, "", fmt.Errorf("secret %s: value of %s is larger than the %d MiB limit", sp.ID, env, MaxSize>>20)
		}
		return []byte(v), "", nil
	}
	// Plain or age-encrypted (decrypted here, in memory); at most MaxSize bytes.
	b, err := secretfile.OpenEnv(src, lookupEnv)
	if err != nil {
		return nil, "", fmt.Errorf("secret %s: %w", sp.ID, err)
	}
	if len(b) > MaxSize {
		clear(b)
		return nil, "", fmt.Errorf("secret %s: %s is larger than the %d MiB limit", sp.ID, src, MaxSize>>20)
	}
	return b, src, nil
}

// Get returns a copy of the value of id (a secret or env-file secret, not an ssh key), or
// ErrNotFound. The caller wipes the copy.
func (s *Set) Get(_ context.Context, id string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	if !ok || e.kind == "ssh key" {
		return nil, fmt.Errorf("secret %s: %w", id, ErrNotFound)
	}
	return append([]byte(nil), e.value...), nil
}

// Has reports whether id was supplied as a secret.
func (s *Set) Has(id string) bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	return ok && e.kind != "ssh key"
}

// RebuildOnChange reports whether steps mounting id key on its content.
func (s *Set) RebuildOnChange(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	return ok && e.rebuild
}

// IDs lists every id (ssh key files as "ssh:AGENT:FILE"), sorted.
func (s *Set) IDs() []string {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.entries))
	for id := range s.entries {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Values maps every id to its value, ssh key files included, for the audit and lint. The
// slices are the set's own: callers must not change or keep them past the set's life.
func (s *Set) Values() map[string][]byte {
	if s == nil {
		return map[string][]byte{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]byte, len(s.entries))
	for id, e := range s.entries {
		out[id] = e.value
	}
	return out
}

// Len is how many values the set holds.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// Masks returns the compiled masks of every non-empty value (short ones as whole words),
// compiled once. Add every value before making writers from it: a writer keeps the masks
// of the moment it was made.
func (s *Set) Masks() *Masks {
	if s == nil {
		return NewMasks(nil)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.masks == nil {
		var vals [][]byte
		for _, e := range s.entries {
			if len(e.value) > 0 {
				vals = append(vals, e.value)
			}
		}
		s.masks = NewMasks(vals)
	}
	return s.masks
}

// Redact returns text with every value of the set masked.
func (s *Set) Redact(text []byte) []byte { return s.Masks().Redact(text) }

// ValueFingerprints are the keyed fingerprints of every value long enough to audit.
func (s *Set) ValueFingerprints(k *FingerprintKey) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.entries {
		if !Short(e.value) {
			out = append(out, k.ValueFingerprint(e.value))
		}
	}
	sort.Strings(out)
	return out
}

// Fingerprint is the keyed fingerprint of secret id, for a rebuild-on-change cache key.
func (s *Set) Fingerprint(k *FingerprintKey, id string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	if !ok {
		return "", fmt.Errorf("secret %s: %w", id, ErrNotFound)
	}
	return k.Fingerprint(id, e.value), nil
}

// Wipe zeroes every value and the compiled masks, and forgets them. Safe to call twice.
func (s *Set) Wipe() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, e := range s.entries {
		clear(e.value)
		delete(s.entries, id)
	}
	for _, m := range append(s.old, s.masks) {
		m.Wipe()
	}
	s.masks, s.old = nil, nil
}
