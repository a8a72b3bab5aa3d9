package sshagent_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/hush-build/hush/internal/sshagent"
)

// TestSSHHandshakeThroughServe authenticates a real SSH handshake with a key
// that only the served agent can use, as git clone in a RUN step would.
func TestSSHHandshakeThroughServe(t *testing.T) {
	dir := t.TempDir()
	ed := newEd25519Key(t, dir, "id_ed25519")
	rsaKey := newRSAKey(t, dir, "id_rsa")
	upSock, _ := startUpstream(t, ed, rsaKey)

	tests := []struct {
		name string
		spec sshagent.Spec
		key  testKey
	}{
		{name: "keyring ed25519", spec: sshagent.Spec{ID: "k", Paths: []string{ed.file}}, key: ed},
		{name: "keyring rsa", spec: sshagent.Spec{ID: "k", Paths: []string{rsaKey.file}}, key: rsaKey},
		{name: "forwarded rsa", spec: sshagent.Spec{ID: "f", Paths: []string{upSock}}, key: rsaKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, path, _ := servedAgent(t, tt.spec)
			client, _ := dialAgent(t, path)
			addr, accepted := startSSHServer(t, tt.key.pub)

			conn, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
				User:            "git",
				Auth:            []ssh.AuthMethod{ssh.PublicKeysCallback(client.Signers)},
				HostKeyCallback: ssh.InsecureIgnoreHostKey(),
			})
			if err != nil {
				t.Fatalf("ssh handshake through the served agent: %v", err)
			}
			conn.Close()
			if got := <-accepted; got != ssh.FingerprintSHA256(tt.key.pub) {
				t.Errorf("server accepted %s, want %s", got, ssh.FingerprintSHA256(tt.key.pub))
			}
		})
	}
}

// startSSHServer accepts one connection authenticated by want and reports
// the fingerprint of the key it accepted.
func startSSHServer(t *testing.T, want ssh.PublicKey) (string, <-chan string) {
	t.Helper()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostKey, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if !bytes.Equal(key.Marshal(), want.Marshal()) {
				return nil, fmt.Errorf("unknown key %s", ssh.FingerprintSHA256(key))
			}
			return &ssh.Permissions{Extensions: map[string]string{"fp": ssh.FingerprintSHA256(key)}}, nil
		},
	}
	cfg.AddHostKey(hostKey)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	accepted := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			accepted <- ""
			return
		}
		defer c.Close()
		sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
		if err != nil {
			accepted <- ""
			return
		}
		defer sc.Close()
		go ssh.DiscardRequests(reqs)
		go func() {
			for ch := range chans {
				ch.Reject(ssh.Prohibited, "no channels")
			}
		}()
		accepted <- sc.Permissions.Extensions["fp"]
		sc.Wait()
	}()
	return l.Addr().String(), accepted
}
