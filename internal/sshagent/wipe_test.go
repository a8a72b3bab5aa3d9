package sshagent

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh"
)

// TestCloseZeroesKeys: Close zeroes the private key material loaded from files, not just
// the keyring's references to it.
func TestCloseZeroesKeys(t *testing.T) {
	dir := t.TempDir()
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for i, k := range []any{ed, rs} {
		block, err := ssh.MarshalPrivateKey(k, "test")
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, []string{"ed", "rsa"}[i])
		if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	src, err := Open(Spec{ID: "k", Paths: paths}, func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys := append([]any(nil), src.keys...)
	if len(keys) != 2 {
		t.Fatalf("loaded %d keys", len(keys))
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		switch k := k.(type) {
		case *ed25519.PrivateKey:
			for _, b := range *k {
				if b != 0 {
					t.Fatal("ed25519 key not zeroed")
				}
			}
		case *rsa.PrivateKey:
			for _, w := range k.D.Bits() {
				if w != 0 {
					t.Fatal("RSA exponent not zeroed")
				}
			}
		default:
			t.Fatalf("unexpected key type %T", k)
		}
	}
}
