package builder

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/hush-build/hush/internal/fscopy"
	"github.com/hush-build/hush/internal/secret"
)

// maxSums bounds the content-sum cache; past it the cache starts over.
const maxSums = 500000

// SumCache is the persistent cache of build-context file sums (by path, inode, size,
// mtime and ctime), so a rebuild does not re-read unchanged context files to compute COPY
// cache keys. It holds only paths and content hashes of context files.
type SumCache struct {
	path  string
	mu    sync.Mutex
	m     map[string]string
	dirty bool
	skip  map[secret.FileID]bool // files secret values were read from
}

// Exclude keeps the files a secret value was read from out of the cache (a plain hash of a
// secret must never be stored), dropping what it knew of them.
func (c *SumCache) Exclude(files []secret.FileID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.skip == nil {
		c.skip = map[secret.FileID]bool{}
	}
	for _, f := range files {
		c.skip[f] = true
	}
	for stat := range c.m {
		if c.skip[statFile(stat)] {
			delete(c.m, stat)
			c.dirty = true
		}
	}
}

// statFile reads the device and inode back from a stat identity ("PATH\x00DEV:INO:…").
func statFile(stat string) secret.FileID {
	_, rest, _ := strings.Cut(stat, "\x00")
	parts := strings.SplitN(rest, ":", 3)
	if len(parts) < 2 {
		return secret.FileID{}
	}
	dev, _ := strconv.ParseUint(parts[0], 10, 64)
	ino, _ := strconv.ParseUint(parts[1], 10, 64)
	return secret.FileID{Dev: dev, Ino: ino}
}

var _ fscopy.SumCache = (*SumCache)(nil)

// LoadSumCache reads the cache at path; a missing or unreadable file is an empty cache.
func LoadSumCache(path string) *SumCache {
	c := &SumCache{path: path, m: map[string]string{}}
	if b, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(b, &c.m)
	}
	return c
}

// Sum implements fscopy.SumCache.
func (c *SumCache) Sum(stat string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[stat]
	return s, ok
}

// Put implements fscopy.SumCache.
func (c *SumCache) Put(stat, sum string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.skip[statFile(stat)] {
		return
	}
	if len(c.m) >= maxSums {
		c.m = map[string]string{}
	}
	c.m[stat] = sum
	c.dirty = true
}

// Save writes the cache if it changed (temp file, then rename).
func (c *SumCache) Save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty {
		return nil
	}
	b, err := json.Marshal(c.m)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".sums-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	c.dirty = false
	return os.Rename(tmp.Name(), c.path)
}
