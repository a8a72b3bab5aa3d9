package sshagent_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/hush-build/hush/internal/hushtest"
	"github.com/hush-build/hush/internal/sshagent"
)

// servedAgent opens spec, serves it and returns the socket path.
func servedAgent(t *testing.T, spec sshagent.Spec) (*sshagent.Source, string, func() error) {
	t.Helper()
	src, err := sshagent.Open(spec, noEnv, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { src.Close() })
	path := filepath.Join(shortDir(t), "ssh_agent.0")
	stop, err := src.Serve(path, -1, -1, 0o600)
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	t.Cleanup(func() { stop() })
	return src, path, stop
}

// TestServeReadOnly runs the same checks against an in-memory keyring and
// against a forwarded upstream agent.
func TestServeReadOnly(t *testing.T) {
	dir := t.TempDir()
	ed := newEd25519Key(t, dir, "id_ed25519")
	rsaKey := newRSAKey(t, dir, "id_rsa")
	extra := newEd25519Key(t, dir, "id_extra")
	upSock, upstream := startUpstream(t, ed, rsaKey)

	tests := []struct {
		name     string
		spec     sshagent.Spec
		upstream agent.Agent // checked for being unchanged, when set
	}{
		{name: "keyring", spec: sshagent.Spec{ID: "keys", Paths: []string{ed.file, rsaKey.file}}},
		{name: "forwarded", spec: sshagent.Spec{ID: "fwd", Paths: []string{upSock}}, upstream: upstream},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, path, _ := servedAgent(t, tt.spec)
			client, _ := dialAgent(t, path)

			listed, err := client.List()
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			want := map[string]bool{string(ed.pub.Marshal()): true, string(rsaKey.pub.Marshal()): true}
			if got := blobs(t, listed); len(got) != len(want) || !got[string(ed.pub.Marshal())] || !got[string(rsaKey.pub.Marshal())] {
				t.Fatalf("List returned %d keys, want the ed25519 and RSA keys", len(listed))
			}

			data := []byte("session data to sign")
			for _, k := range []testKey{ed, rsaKey} {
				sig, err := client.Sign(k.pub, data)
				if err != nil {
					t.Fatalf("Sign(%s): %v", k.pub.Type(), err)
				}
				if err := k.pub.Verify(data, sig); err != nil {
					t.Fatalf("signature by %s does not verify: %v", k.pub.Type(), err)
				}
			}
			sig, err := client.SignWithFlags(rsaKey.pub, data, agent.SignatureFlagRsaSha256)
			if err != nil {
				t.Fatalf("SignWithFlags: %v", err)
			}
			if sig.Format != ssh.KeyAlgoRSASHA256 {
				t.Errorf("SignWithFlags format = %q, want %q", sig.Format, ssh.KeyAlgoRSASHA256)
			}
			if err := rsaKey.pub.Verify(data, sig); err != nil {
				t.Fatalf("rsa-sha2-256 signature does not verify: %v", err)
			}
			_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
			otherSigner, _ := ssh.NewSignerFromKey(otherPriv)
			if _, err := client.Sign(otherSigner.PublicKey(), data); err == nil {
				t.Error("Sign with a key the agent does not hold succeeded")
			}

			refused := []struct {
				op string
				do func() error
			}{
				{"Add", func() error { return client.Add(agent.AddedKey{PrivateKey: extra.priv}) }},
				{"Remove", func() error { return client.Remove(ed.pub) }},
				{"RemoveAll", client.RemoveAll},
				{"Lock", func() error { return client.Lock([]byte("pw")) }},
				{"Unlock", func() error { return client.Unlock([]byte("pw")) }},
			}
			for _, r := range refused {
				if err := r.do(); err == nil {
					t.Errorf("%s was allowed, want refused", r.op)
				}
			}
			if _, err := client.Extension("session-bind@openssh.com", nil); !errors.Is(err, agent.ErrExtensionUnsupported) {
				t.Errorf("Extension error = %v, want %v", err, agent.ErrExtensionUnsupported)
			}

			after, err := client.List()
			if err != nil {
				t.Fatalf("List after refused ops (agent locked?): %v", err)
			}
			if got := blobs(t, after); len(got) != 2 || !got[string(ed.pub.Marshal())] || !got[string(rsaKey.pub.Marshal())] {
				t.Fatalf("key list changed after refused operations: %d keys", len(after))
			}
			if _, err := client.Sign(ed.pub, data); err != nil {
				t.Fatalf("Sign after refused ops: %v", err)
			}
			if tt.upstream != nil {
				up, err := tt.upstream.List()
				if err != nil || len(up) != 2 {
					t.Fatalf("upstream agent changed: %d keys, %v", len(up), err)
				}
			}
		})
	}
}

func TestServeSocketOwnerAndMode(t *testing.T) {
	hushtest.RequireRootFor(t, "chown of the agent socket to another uid")
	ed := newEd25519Key(t, t.TempDir(), "id_ed25519")
	tests := []struct {
		uid, gid int
		mode     os.FileMode
	}{
		{uid: 0, gid: 0, mode: 0o600},
		{uid: 1000, gid: 1001, mode: 0o600},
		{uid: 4242, gid: 0, mode: 0o660},
		{uid: 65534, gid: 65534, mode: 0o666},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d:%d %v", tt.uid, tt.gid, tt.mode), func(t *testing.T) {
			src, err := sshagent.Open(sshagent.Spec{ID: "k", Paths: []string{ed.file}}, noEnv, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			path := filepath.Join(shortDir(t), "agent.sock")
			stop, err := src.Serve(path, tt.uid, tt.gid, tt.mode)
			if err != nil {
				t.Fatalf("Serve: %v", err)
			}
			defer stop()
			fi, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode()&fs.ModeSocket == 0 {
				t.Errorf("%s is %v, not a socket", path, fi.Mode())
			}
			if fi.Mode().Perm() != tt.mode {
				t.Errorf("mode = %v, want %v", fi.Mode().Perm(), tt.mode)
			}
			st := fi.Sys().(*syscall.Stat_t)
			if int(st.Uid) != tt.uid || int(st.Gid) != tt.gid {
				t.Errorf("owner = %d:%d, want %d:%d", st.Uid, st.Gid, tt.uid, tt.gid)
			}
			entries, err := os.ReadDir(filepath.Dir(path))
			if err != nil || len(entries) != 1 {
				t.Errorf("staging files left next to the socket: %v, %v", entries, err)
			}
		})
	}
}

func TestServeStop(t *testing.T) {
	ed := newEd25519Key(t, t.TempDir(), "id_ed25519")
	_, path, stop := servedAgent(t, sshagent.Spec{ID: "k", Paths: []string{ed.file}})
	client, conn := dialAgent(t, path)
	if _, err := client.List(); err != nil {
		t.Fatalf("List before stop: %v", err)
	}

	done := make(chan error, 1)
	go func() { done <- stop() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stop: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stop did not return with a connection open")
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket still exists after stop: %v", err)
	}
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := client.List(); err == nil {
		t.Error("open connection still served after stop")
	}
	if err := stop(); err != nil {
		t.Errorf("second stop: %v", err)
	}
}

func TestServeRefusals(t *testing.T) {
	dir := t.TempDir()
	ed := newEd25519Key(t, dir, "id_ed25519")

	t.Run("existing path is not replaced", func(t *testing.T) {
		src, err := sshagent.Open(sshagent.Spec{ID: "k", Paths: []string{ed.file}}, noEnv, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		path := filepath.Join(shortDir(t), "taken")
		if err := os.WriteFile(path, []byte("keep me"), 0o644); err != nil {
			t.Fatal(err)
		}
		if stop, err := src.Serve(path, -1, -1, 0o600); err == nil {
			stop()
			t.Fatal("Serve over an existing file succeeded")
		} else if !errors.Is(err, fs.ErrExist) {
			t.Errorf("error %v is not fs.ErrExist", err)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, []byte("keep me")) {
			t.Errorf("existing file changed to %q", got)
		}
	})
	t.Run("mode with non-permission bits", func(t *testing.T) {
		src, err := sshagent.Open(sshagent.Spec{ID: "k", Paths: []string{ed.file}}, noEnv, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		path := filepath.Join(shortDir(t), "s")
		if stop, err := src.Serve(path, -1, -1, 0o600|os.ModeSetuid); err == nil {
			stop()
			t.Fatal("Serve with setuid mode succeeded")
		}
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("socket created despite error: %v", err)
		}
	})
	t.Run("closed source", func(t *testing.T) {
		src, err := sshagent.Open(sshagent.Spec{ID: "k", Paths: []string{ed.file}}, noEnv, nil)
		if err != nil {
			t.Fatal(err)
		}
		src.Close()
		if stop, err := src.Serve(filepath.Join(shortDir(t), "s"), -1, -1, 0o600); err == nil {
			stop()
			t.Fatal("Serve after Close succeeded")
		}
	})
}

func TestCloseWipesKeys(t *testing.T) {
	ed := newEd25519Key(t, t.TempDir(), "id_ed25519")
	src, path, _ := servedAgent(t, sshagent.Spec{ID: "k", Paths: []string{ed.file}})
	client, _ := dialAgent(t, path)
	if keys, err := client.List(); err != nil || len(keys) != 1 {
		t.Fatalf("List before Close = %d keys, %v; want 1", len(keys), err)
	}
	if err := src.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	keys, err := client.List()
	if err != nil {
		t.Fatalf("List after Close: %v", err)
	}
	if len(keys) != 0 {
		t.Errorf("List after Close = %d keys, want 0", len(keys))
	}
	if _, err := client.Sign(ed.pub, []byte("x")); err == nil {
		t.Error("Sign after Close succeeded")
	}
}

func TestServeForwardedUpstreamGone(t *testing.T) {
	upSock, _ := startUpstream(t)
	_, path, _ := servedAgent(t, sshagent.Spec{ID: "fwd", Paths: []string{upSock}})
	if err := os.Remove(upSock); err != nil {
		t.Fatal(err)
	}
	client, conn := dialAgent(t, path)
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := client.List(); err == nil {
		t.Error("List succeeded with the upstream agent gone")
	}
}
