package secret

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/hush-build/hush/internal/secretfile"
)

// TestReadFingerprintKey: a shared key file, plain or age-encrypted, gives the same
// fingerprints on every machine that reads it (unlike each state dir's own key); a file
// that is not 64 hex digits is refused without its content in the error.
func TestReadFingerprintKey(t *testing.T) {
	const hexKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	id, _ := age.GenerateX25519Identity()
	dir := t.TempDir()
	plain := filepath.Join(dir, "fp.key")
	if err := os.WriteFile(plain, []byte(hexKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	enc := filepath.Join(dir, "fp.key.age")
	if err := secretfile.WriteEncrypted(enc, []byte(hexKey), 0o600, id.Recipient()); err != nil {
		t.Fatal(err)
	}
	env := func(k string) (string, bool) {
		if k == secretfile.EnvIdentity {
			return id.String(), true
		}
		return "", false
	}
	a, err := ReadFingerprintKey(plain, env)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ReadFingerprintKey(enc, env)
	if err != nil {
		t.Fatal(err)
	}
	own1, _ := LoadFingerprintKey(filepath.Join(dir, "one", "fingerprint"))
	own2, _ := LoadFingerprintKey(filepath.Join(dir, "two", "fingerprint"))
	v := []byte("value")
	if a.Fingerprint("npm", v) != b.Fingerprint("npm", v) {
		t.Error("the plain and the encrypted key file give different fingerprints")
	}
	if own1.Fingerprint("npm", v) == own2.Fingerprint("npm", v) {
		t.Error("two state dirs' own keys give the same fingerprint")
	}
	for _, bad := range []string{"short", strings.Repeat("zz", 32), hexKey + "00"} {
		p := filepath.Join(dir, "bad")
		if err := os.WriteFile(p, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := ReadFingerprintKey(p, env)
		if err == nil || !strings.Contains(err.Error(), "64 hex digits") || strings.Contains(err.Error(), bad) {
			t.Errorf("key file %q: error %v, want a refusal that does not show it", bad, err)
		}
	}
}
