package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"

	"github.com/hush-build/hush/internal/secretfile"
)

// DiskCache keeps the dockercfg a generator wrote on disk until it expires, encrypted with
// age to an identity kept (mode 0600) in the cache dir: credentials never sit on disk in
// clear, and an expired entry is deleted rather than used. It is only used when asked
// (--registry-auth-cache TTL); without it generated credentials live in memory only.
type DiskCache struct {
	Dir string
	TTL time.Duration
}

type cacheEntry struct {
	Expires   time.Time `json:"expires"`
	Dockercfg []byte    `json:"dockercfg"`
}

func (c *DiskCache) entryPath(spec string) string {
	sum := sha256.Sum256([]byte(spec))
	return filepath.Join(c.Dir, hex.EncodeToString(sum[:16])+".age")
}

// identity returns the cache's age identity, creating it on first use.
func (c *DiskCache) identity() (*age.X25519Identity, error) {
	p := filepath.Join(c.Dir, "identity")
	if b, err := os.ReadFile(p); err == nil {
		return age.ParseX25519Identity(string(b))
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating credential cache: %w", err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, fmt.Errorf("creating credential cache key: %w", err)
	}
	if err := secretfile.WriteNewFile(p, []byte(id.String()), 0o600); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("writing credential cache key: %w", err)
	}
	b, err := os.ReadFile(p) // another process may have won the race
	if err != nil {
		return nil, fmt.Errorf("reading credential cache key: %w", err)
	}
	return age.ParseX25519Identity(string(b))
}

// Load returns the cached dockercfg for spec if it has not expired.
func (c *DiskCache) Load(spec string, now time.Time) ([]byte, bool) {
	data, err := os.ReadFile(c.entryPath(spec))
	if err != nil {
		return nil, false
	}
	id, err := c.identity()
	if err != nil {
		return nil, false
	}
	plain, err := secretfile.Decrypt(data, id)
	if err != nil {
		os.Remove(c.entryPath(spec))
		return nil, false
	}
	defer clear(plain)
	var e cacheEntry
	if err := json.Unmarshal(plain, &e); err != nil || !now.Before(e.Expires) {
		clear(e.Dockercfg)
		os.Remove(c.entryPath(spec))
		return nil, false
	}
	return e.Dockercfg, true
}

// Store encrypts dockercfg for spec with an expiry of now + TTL.
func (c *DiskCache) Store(spec string, dockercfg []byte, now time.Time) error {
	id, err := c.identity()
	if err != nil {
		return err
	}
	plain, err := json.Marshal(cacheEntry{Expires: now.Add(c.TTL), Dockercfg: dockercfg})
	if err != nil {
		return err
	}
	defer clear(plain)
	if err := secretfile.WriteEncrypted(c.entryPath(spec), plain, 0o600, id.Recipient()); err != nil {
		return fmt.Errorf("caching generated credentials: %w", err)
	}
	return nil
}
