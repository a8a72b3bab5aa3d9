package secret

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/hushtest"
)

// TestLoadTmpfsKeyInASharedDir: /dev/shm is everyone's, so the key dir hush makes there
// must be its own: a key is created once and read back; a hush-keys that is a symlink,
// open to others or another user's is refused; a .tmp symlink another user planted is
// never written through.
func TestLoadTmpfsKeyInASharedDir(t *testing.T) {
	shm := hushtest.ShmDir(t)
	k1, err := LoadTmpfsKey(shm, "ledger-a")
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadTmpfsKey(shm, "ledger-a")
	if err != nil || !bytes.Equal(k1.key, k2.key) {
		t.Fatalf("second load: %v, same key %v", err, err == nil && bytes.Equal(k1.key, k2.key))
	}
	if fi, err := os.Stat(filepath.Join(shm, "hush-keys")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("hush-keys: %v %v, want mode 0700", fi.Mode(), err)
	}

	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(shm, "hush-keys", "ledger-b.tmp")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTmpfsKey(shm, "ledger-b"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep me" {
		t.Errorf("the planted .tmp symlink was written through: victim holds %q", b)
	}

	for name, plant := range map[string]func(dir string) error{
		"symlink": func(dir string) error { return os.Symlink(t.TempDir(), dir) },
		"open": func(dir string) error {
			if err := os.Mkdir(dir, 0o700); err != nil {
				return err
			}
			return os.Chmod(dir, 0o777)
		},
		"others": func(dir string) error {
			hushtest.RequireRootFor(t, "gives a directory to another user")
			if err := os.Mkdir(dir, 0o700); err != nil {
				return err
			}
			return os.Chown(dir, 65534, 65534)
		},
	} {
		t.Run(name, func(t *testing.T) {
			shared := hushtest.ShmDir(t)
			if err := plant(filepath.Join(shared, "hush-keys")); err != nil {
				t.Fatal(err)
			}
			_, err := LoadTmpfsKey(shared, "ledger-c")
			if err == nil || !strings.Contains(err.Error(), "must be a directory of user") {
				t.Errorf("a planted hush-keys (%s) was accepted: %v", name, err)
			}
		})
	}
}
