package sshagent_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// testKey is a freshly generated private key and the file it was written to.
type testKey struct {
	priv any
	pub  ssh.PublicKey
	file string
	pem  []byte
}

func newEd25519Key(t *testing.T, dir, name string) testKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "test ed25519")
	if err != nil {
		t.Fatal(err)
	}
	return writeKey(t, dir, name, priv, pem.EncodeToMemory(block))
}

func newRSAKey(t *testing.T, dir, name string) testKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv)})
	return writeKey(t, dir, name, priv, data)
}

func newProtectedKey(t *testing.T, dir, name string) testKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "protected", []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	return writeKey(t, dir, name, priv, pem.EncodeToMemory(block))
}

func writeKey(t *testing.T, dir, name string, priv any, data []byte) testKey {
	t.Helper()
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return testKey{priv: priv, pub: signer.PublicKey(), file: file, pem: data}
}

// shortDir returns a fresh directory with a short path, since unix socket
// paths are limited to 107 bytes and t.TempDir embeds the test name.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sa")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startUpstream runs a real ssh agent (an in-memory keyring) on a unix
// socket, standing in for the user's ssh-agent.
func startUpstream(t *testing.T, keys ...testKey) (string, agent.Agent) {
	t.Helper()
	kr := agent.NewKeyring()
	for _, k := range keys {
		if err := kr.Add(agent.AddedKey{PrivateKey: k.priv, Comment: filepath.Base(k.file)}); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(shortDir(t), "up.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue
			}
			go func() {
				defer c.Close()
				_ = agent.ServeAgent(kr, c)
			}()
		}
	}()
	return path, kr
}

// dialAgent connects an agent client to a served socket.
func dialAgent(t *testing.T, path string) (agent.ExtendedAgent, net.Conn) {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dialing served agent: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return agent.NewClient(c), c
}

// blobs returns the wire form of each listed key, for comparing key sets.
func blobs(t *testing.T, keys []*agent.Key) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, k := range keys {
		out[string(k.Marshal())] = true
	}
	return out
}

func noEnv(string) string { return "" }
