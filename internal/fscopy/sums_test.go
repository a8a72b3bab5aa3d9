package fscopy

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

type mapSums struct {
	mu         sync.Mutex
	m          map[string]string
	hits, puts int
}

func (c *mapSums) Sum(k string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[k]
	if ok {
		c.hits++
	}
	return s, ok
}

func (c *mapSums) Put(k, s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[k] = s
	c.puts++
}

// TestDigestSumCache: unchanged files are not re-read, a changed file is, and the digest
// is the same with or without the cache.
func TestDigestSumCache(t *testing.T) {
	root := t.TempDir()
	for _, n := range []string{"a", "b", "c"} {
		if err := os.WriteFile(filepath.Join(root, n), []byte("content "+n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(racyWindow + 100*time.Millisecond) // files this fresh are never cached
	cache := &mapSums{m: map[string]string{}}
	src := Source{Root: root, Sums: cache}
	d1, err := Digest(src, []string{"."})
	if err != nil {
		t.Fatal(err)
	}
	if cache.puts != 3 || cache.hits != 0 {
		t.Fatalf("first digest: %d puts, %d hits; want 3, 0", cache.puts, cache.hits)
	}
	d2, err := Digest(src, []string{"."})
	if err != nil || d2 != d1 || cache.hits != 3 || cache.puts != 3 {
		t.Fatalf("second digest: %v %v, %d hits %d puts", d2, err, cache.hits, cache.puts)
	}
	plain, err := Digest(Source{Root: root}, []string{"."})
	if err != nil || plain != d1 {
		t.Fatalf("digest without cache %s differs from %s (%v)", plain, d1, err)
	}
	if err := os.WriteFile(filepath.Join(root, "b"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	d3, err := Digest(src, []string{"."})
	if err != nil || d3 == d1 {
		t.Fatalf("a changed file did not change the digest (%v)", err)
	}
}
