package secret

import (
	"context"
	"errors"
	"fmt"
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

// Store holds every secret of one build, read once into memory.
type Store struct {
	mu      sync.Mutex
	entries map[string]*entry
}

type entry struct {
	value   []byte
	rebuild bool
}

var _ Provider = (*Store)(nil)

// Load reads every spec's value once. Later specs with the same id win. lookupEnv is
// os.LookupEnv in production.
func Load(specs []Spec, lookupEnv func(string) (string, bool)) (*Store, error) {
	s := &Store{entries: map[string]*entry{}}
	for _, sp := range specs {
		v, err := read(sp, lookupEnv)
		if err != nil {
			s.Wipe()
			return nil, err
		}
		if old, ok := s.entries[sp.ID]; ok {
			clear(old.value)
		}
		s.entries[sp.ID] = &entry{value: v, rebuild: sp.RebuildOnChange}
	}
	return s, nil
}

func read(sp Spec, lookupEnv func(string) (string, bool)) ([]byte, error) {
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
			return nil, fmt.Errorf("secret %s: environment variable %s is not set", sp.ID, env)
		}
		if len(v) > MaxSize {
			return nil, fmt.Errorf("secret %s: value of %s is larger than the %d MiB limit", sp.ID, env, MaxSize>>20)
		}
		return []byte(v), nil
	}
	// Plain or age-encrypted (decrypted here, in memory); at most MaxSize bytes.
	b, err := secretfile.OpenEnv(src, lookupEnv)
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", sp.ID, err)
	}
	if len(b) > MaxSize {
		clear(b)
		return nil, fmt.Errorf("secret %s: %s is larger than the %d MiB limit", sp.ID, src, MaxSize>>20)
	}
	return b, nil
}

// Get returns a copy of the value of id, or ErrNotFound.
func (s *Store) Get(_ context.Context, id string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	if !ok {
		return nil, fmt.Errorf("secret %s: %w", id, ErrNotFound)
	}
	return append([]byte(nil), e.value...), nil
}

// Has reports whether id was supplied.
func (s *Store) Has(id string) bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.entries[id]
	return ok
}

// RebuildOnChange reports whether steps mounting id key on its content.
func (s *Store) RebuildOnChange(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	return ok && e.rebuild
}

// IDs lists the supplied ids, sorted.
func (s *Store) IDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.entries))
	for id := range s.entries {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Values returns copies of every value, for leak audits and log masking.
func (s *Store) Values() map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]byte, len(s.entries))
	for id, e := range s.entries {
		out[id] = append([]byte(nil), e.value...)
	}
	return out
}

// Wipe zeroes every value and forgets them.
func (s *Store) Wipe() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, e := range s.entries {
		clear(e.value)
		delete(s.entries, id)
	}
}

// Add sets id to a copy of value (a later Add or Load of the same id wins), for secrets
// that come from an env file rather than a --secret spec.
func (s *Store) Add(id string, value []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.entries[id]; ok {
		clear(old.value)
	}
	s.entries[id] = &entry{value: append([]byte(nil), value...)}
}
