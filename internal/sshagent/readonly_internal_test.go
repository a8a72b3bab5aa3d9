package sshagent

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

func TestReadOnlyView(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kr := agent.NewKeyring().(agent.ExtendedAgent)
	if err := kr.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	keys, _ := kr.List()
	pub, err := ssh.ParsePublicKey(keys[0].Blob)
	if err != nil {
		t.Fatal(err)
	}
	view := readOnly{upstream: kr}

	refused := []struct {
		op   string
		do   func() error
		want error
	}{
		{"Add", func() error { return view.Add(agent.AddedKey{PrivateKey: priv}) }, ErrReadOnly},
		{"Remove", func() error { return view.Remove(pub) }, ErrReadOnly},
		{"RemoveAll", view.RemoveAll, ErrReadOnly},
		{"Lock", func() error { return view.Lock([]byte("pw")) }, ErrReadOnly},
		{"Unlock", func() error { return view.Unlock([]byte("pw")) }, ErrReadOnly},
		{"Signers", func() error { _, err := view.Signers(); return err }, ErrReadOnly},
		{"Extension", func() error { _, err := view.Extension("x@example.com", nil); return err }, agent.ErrExtensionUnsupported},
	}
	for _, r := range refused {
		if err := r.do(); !errors.Is(err, r.want) {
			t.Errorf("%s = %v, want %v", r.op, err, r.want)
		}
	}

	listed, err := view.List()
	if err != nil || len(listed) != 1 {
		t.Fatalf("List = %d keys, %v; want 1", len(listed), err)
	}
	sig, err := view.Sign(pub, []byte("data"))
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if err := pub.Verify([]byte("data"), sig); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
}
