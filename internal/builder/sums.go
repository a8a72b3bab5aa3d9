package builder

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"

	"github.com/hush-build/hush/internal/fscopy"
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
