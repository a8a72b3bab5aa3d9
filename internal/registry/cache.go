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
// age to an identity that lives only on a tmpfs (mode 0600 under KeyDir): credentials never
// sit on persistent disk in clear, nor does anything that decrypts them, so a copy of the
// state dir (or a reboot) makes the cache unreadable. An expired or unreadable entry is
// deleted rather than used. It is only used when asked (--registry-auth-cache TTL);
// without it generated credentials live in memory only.
type DiskCache struct {
	Dir string
	TTL time.Duration
	// KeyDir is the tmpfs holding the identity; "" means DefaultGeneratorDir.
	KeyDir string
}

type cacheEntry struct {
	Expires   time.Time `json:"expires"`
	Dockercfg []byte    `json:"dockercfg"`
}

func (c *DiskCache) entryPath(spec string) string {
	sum := sha256.Sum256([]byte(spec))
	return filepath.Join(c.Dir, hex.EncodeToString(sum[:16])+".age")
}

// identity returns the cache's age identity, creating it on the tmpfs on first use.
func (c *DiskCache) identity() (*age.X25519Identity, error) {
	keyDir := c.KeyDir
	if keyDir == "" {
		keyDir = DefaultGeneratorDir
	}
	if err := checkTmpfs(keyDir); err != nil {
		return nil, fmt.Errorf("credential cache key: %w", err)
	}
	sum := sha256.Sum256([]byte(filepath.Clean(c.Dir)))
	keys := filepath.Join(keyDir, "hush-keys")
	p := filepath.Join(keys, "regauth-"+hex.EncodeToString(sum[:8]))
	for _, d := range []string{c.Dir, keys} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("creating credential cache: %w", err)
		}
	}
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			return nil, fmt.Errorf("creating credential cache key: %w", err)
		}
		if err := secretfile.WriteNewFile(p, []byte(id.String()), 0o600); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("writing credential cache key: %w", err)
		}
	}
	b, err := os.ReadFile(p) // another process may have won the race
	if err != nil {
		return nil, fmt.Errorf("reading credential cache key: %w", err)
	}
	defer clear(b)
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
	c.sweep(id, now)
	return nil
}

// sweep deletes entries that have expired or can no longer be read (a key from before a
// reboot).
func (c *DiskCache) sweep(id age.Identity, now time.Time) {
	paths, _ := filepath.Glob(filepath.Join(c.Dir, "*.age"))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		plain, err := secretfile.Decrypt(data, id)
		if err != nil {
			os.Remove(p)
			continue
		}
		var e cacheEntry
		if json.Unmarshal(plain, &e) != nil || !now.Before(e.Expires) {
			os.Remove(p)
		}
		clear(e.Dockercfg)
		clear(plain)
	}
}
