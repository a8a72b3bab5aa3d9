package secret

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/hush-build/hush/internal/secretfile"
)

func TestLoadEncryptedFile(t *testing.T) {
	const value = "npm-token-canary-51c2"
	id, _ := age.GenerateX25519Identity()
	other, _ := age.GenerateX25519Identity()
	dir := t.TempDir()
	enc := filepath.Join(dir, "npmrc.age")
	if err := secretfile.WriteEncrypted(enc, []byte(value), 0o600, id.Recipient()); err != nil {
		t.Fatal(err)
	}
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		err  error
	}{
		{"identity in env", map[string]string{secretfile.EnvIdentity: id.String()}, nil},
		{"wrong identity", map[string]string{secretfile.EnvIdentity: other.String()}, secretfile.ErrNoIdentityMatch},
		{"no identity", map[string]string{"HOME": dir}, secretfile.ErrNoIdentity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Load([]Spec{{ID: "npm", Src: enc}}, env(tc.env))
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), "secret npm") {
					t.Fatalf("Load error = %v, want %v naming the secret", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(context.Background(), "npm")
			if err != nil || string(got) != value {
				t.Fatalf("Get = %q, %v; want the plaintext", got, err)
			}
		})
	}
	// A plain file that merely mentions age is not decrypted.
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("age-encryption.org/v1"), 0o600)
	s, err := Load([]Spec{{ID: "p", Src: plain}}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(context.Background(), "p"); string(got) != "age-encryption.org/v1" {
		t.Fatalf("plain file changed: %q", got)
	}
}

func TestReadEnvFile(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	dir := t.TempDir()
	text := "export A=1\nPEM=\"-----BEGIN-----\nabc\n-----END-----\"\n"
	plain := filepath.Join(dir, "env")
	os.WriteFile(plain, []byte(text), 0o600)
	enc := filepath.Join(dir, "env.age")
	secretfile.WriteEncrypted(enc, []byte(text), 0o600, id.Recipient())
	bad := filepath.Join(dir, "bad.age")
	secretfile.WriteEncrypted(bad, []byte("A=1\nB 'hidden-value-9f'\n"), 0o600, id.Recipient())
	env := func(k string) (string, bool) {
		if k == secretfile.EnvIdentity {
			return id.String(), true
		}
		return "", false
	}
	for _, p := range []string{plain, enc} {
		vars, err := ReadEnvFile(p, env)
		if err != nil || len(vars) != 2 || vars[0].Key != "A" || string(vars[1].Value) != "-----BEGIN-----\nabc\n-----END-----" {
			t.Fatalf("ReadEnvFile(%s) = %q, %v", filepath.Base(p), vars, err)
		}
	}
	_, err := ReadEnvFile(bad, env)
	if !errors.Is(err, ErrEnvFile) || !strings.Contains(err.Error(), "bad.age") || !strings.Contains(err.Error(), "line 2") || strings.Contains(err.Error(), "hidden-value") {
		t.Fatalf("ReadEnvFile(bad) error = %v", err)
	}
	if _, err := ReadEnvFile(enc, func(string) (string, bool) { return "", false }); !errors.Is(err, secretfile.ErrNoIdentity) {
		t.Fatalf("ReadEnvFile without identity = %v, want ErrNoIdentity", err)
	}
}
