package builder

import (
	"path/filepath"
	"testing"

	"github.com/hush-build/hush/internal/secret"
)

// TestSumCacheSkipsSecretFiles: the content sum of a file a secret value was read from is
// never kept (a plain hash of a secret would let anyone with the state dir check guesses).
func TestSumCacheSkipsSecretFiles(t *testing.T) {
	c := LoadSumCache(filepath.Join(t.TempDir(), "sums.json"))
	c.Put("/ctx/token.txt\x0066:1234:20:1:1", "sha256:of-the-secret")
	c.Put("/ctx/main.go\x0066:99:20:1:1", "sha256:of-code")
	c.Exclude([]secret.FileID{{Dev: 66, Ino: 1234}})
	if _, ok := c.Sum("/ctx/token.txt\x0066:1234:20:1:1"); ok {
		t.Error("the secret file's sum was kept")
	}
	c.Put("/ctx/token.txt\x0066:1234:21:2:2", "sha256:of-the-secret-changed")
	if _, ok := c.Sum("/ctx/token.txt\x0066:1234:21:2:2"); ok {
		t.Error("the secret file's sum was cached after Exclude")
	}
	if _, ok := c.Sum("/ctx/main.go\x0066:99:20:1:1"); !ok {
		t.Error("another file's sum was dropped")
	}
}
