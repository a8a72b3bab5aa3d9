package sshagent_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/hush-build/hush/internal/hushtest"
	"github.com/hush-build/hush/internal/sshagent"
)

// TestSSHAddAgainstServe drives the served socket with OpenSSH's own client.
func TestSSHAddAgainstServe(t *testing.T) {
	sshAdd := hushtest.RequireBinary(t, "ssh-add") // Debian openssh-client
	dir := t.TempDir()
	ed := newEd25519Key(t, dir, "id_ed25519")
	rsaKey := newRSAKey(t, dir, "id_rsa")
	extra := newEd25519Key(t, dir, "id_extra")
	upSock, _ := startUpstream(t, ed, rsaKey)
	// ssh-add -d reads the public half next to the key.
	if err := os.WriteFile(ed.file+".pub", ssh.MarshalAuthorizedKey(ed.pub), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		spec sshagent.Spec
	}{
		{name: "keyring", spec: sshagent.Spec{ID: "keys", Paths: []string{ed.file, rsaKey.file}}},
		{name: "forwarded", spec: sshagent.Spec{ID: "fwd", Paths: []string{upSock}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, path, _ := servedAgent(t, tt.spec)
			run := func(args ...string) (string, error) {
				cmd := exec.Command(sshAdd, args...)
				cmd.Env = []string{"SSH_AUTH_SOCK=" + path, "PATH=" + os.Getenv("PATH"), "HOME=" + dir}
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			listed := func() string {
				t.Helper()
				out, err := run("-l")
				if err != nil {
					t.Fatalf("ssh-add -l: %v\n%s", err, out)
				}
				for _, k := range []testKey{ed, rsaKey} {
					if fp := ssh.FingerprintSHA256(k.pub); !strings.Contains(out, fp) {
						t.Fatalf("ssh-add -l does not list %s:\n%s", fp, out)
					}
				}
				return out
			}
			before := listed()

			out, err := run("-L")
			if err != nil {
				t.Fatalf("ssh-add -L: %v\n%s", err, out)
			}
			if !strings.Contains(out, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ed.pub)))) {
				t.Errorf("ssh-add -L does not print the ed25519 public key:\n%s", out)
			}

			for _, args := range [][]string{
				{"-D"},
				{"-d", ed.file},
				{extra.file},
			} {
				out, err := run(args...)
				if err == nil {
					t.Errorf("ssh-add %s succeeded, want failure:\n%s", strings.Join(args, " "), out)
				}
				t.Logf("ssh-add %s: %v: %s", strings.Join(args, " "), err, out)
			}
			if after := listed(); after != before {
				t.Errorf("key list changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}
