package sshagent_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/hush-build/hush/internal/sshagent"
)

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	ed := newEd25519Key(t, dir, "id_ed25519")
	protected := newProtectedKey(t, dir, "id_protected")
	sock, _ := startUpstream(t, ed)
	sock2, _ := startUpstream(t)

	pubFile := filepath.Join(dir, "id_ed25519.pub")
	if err := os.WriteFile(pubFile, ssh.MarshalAuthorizedKey(ed.pub), 0o644); err != nil {
		t.Fatal(err)
	}
	// A truncated key: its bytes must not show up in the error.
	broken := filepath.Join(dir, "id_broken")
	brokenPEM := append([]byte(nil), ed.pem[:len(ed.pem)/2]...)
	brokenPEM = append(brokenPEM, []byte("\n-----END OPENSSH PRIVATE KEY-----\n")...)
	if err := os.WriteFile(broken, brokenPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge")
	if err := os.WriteFile(huge, bytes.Repeat([]byte("A"), 200<<10), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		spec     sshagent.Spec
		env      func(string) string
		is       error
		contains []string
		secret   []byte // must not appear in the error
	}{
		{name: "no SSH_AUTH_SOCK", spec: sshagent.Spec{ID: "default"}, env: noEnv, is: sshagent.ErrNoAgent},
		{name: "nil env", spec: sshagent.Spec{ID: "default"}, env: nil, is: sshagent.ErrNoAgent},
		{name: "SSH_AUTH_SOCK missing", spec: sshagent.Spec{ID: "default"},
			env: func(string) string { return filepath.Join(dir, "gone.sock") }, is: os.ErrNotExist},
		{name: "missing path", spec: sshagent.Spec{ID: "a", Paths: []string{filepath.Join(dir, "nope")}}, is: os.ErrNotExist},
		{name: "directory", spec: sshagent.Spec{ID: "a", Paths: []string{dir}}, contains: []string{"neither"}},
		{name: "two sockets", spec: sshagent.Spec{ID: "a", Paths: []string{sock, sock2}}, contains: []string{"only one agent socket"}},
		{name: "socket and key", spec: sshagent.Spec{ID: "a", Paths: []string{sock, ed.file}}, contains: []string{"cannot mix"}},
		{name: "passphrase", spec: sshagent.Spec{ID: "a", Paths: []string{ed.file, protected.file}},
			is: sshagent.ErrPassphraseProtected, contains: []string{protected.file, "passphrase-protected", "ssh-agent"}, secret: protected.pem},
		{name: "public key", spec: sshagent.Spec{ID: "a", Paths: []string{pubFile}}, contains: []string{pubFile, "public key"}},
		{name: "broken key", spec: sshagent.Spec{ID: "a", Paths: []string{broken}}, contains: []string{broken}, secret: brokenPEM},
		{name: "too large", spec: sshagent.Spec{ID: "a", Paths: []string{huge}}, contains: []string{huge, "larger than"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := sshagent.Open(tt.spec, tt.env, nil)
			if err == nil {
				src.Close()
				t.Fatalf("Open(%+v) succeeded, want error", tt.spec)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q is not %v", err, tt.is)
			}
			for _, s := range tt.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if tt.secret != nil {
				assertNoKeyBytes(t, err.Error(), tt.secret)
			}
		})
	}
}

// assertNoKeyBytes fails if any line of base64 key material appears in msg.
func assertNoKeyBytes(t *testing.T, msg string, keyPEM []byte) {
	t.Helper()
	for _, line := range strings.Split(string(keyPEM), "\n") {
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(msg, line) {
			t.Fatalf("error leaks key material: %q", msg)
		}
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	ed := newEd25519Key(t, dir, "id_ed25519")
	sock, _ := startUpstream(t, ed)

	tests := []struct {
		name string
		spec sshagent.Spec
		env  func(string) string
		id   string
	}{
		{name: "default from env", spec: sshagent.Spec{ID: "default"},
			env: func(k string) string {
				if k == "SSH_AUTH_SOCK" {
					return sock
				}
				return ""
			}, id: "default"},
		{name: "named socket", spec: sshagent.Spec{ID: "git", Paths: []string{sock}}, id: "git"},
		{name: "empty id", spec: sshagent.Spec{Paths: []string{ed.file}}, id: "default"},
		{name: "key file", spec: sshagent.Spec{ID: "deploy", Paths: []string{ed.file}}, id: "deploy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := sshagent.Open(tt.spec, tt.env, nil)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer src.Close()
			if src.ID() != tt.id {
				t.Errorf("ID() = %q, want %q", src.ID(), tt.id)
			}
		})
	}
}
