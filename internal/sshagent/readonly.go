package sshagent

import (
	"errors"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// ErrReadOnly is what every agent operation other than listing and signing
// returns to a build step.
var ErrReadOnly = errors.New("the ssh agent forwarded to a build step is read-only")

// readOnly is the view of an agent a build step gets: List, Sign and
// SignWithFlags pass through, everything else is refused. Every method is
// written out, so a method added to agent.ExtendedAgent cannot pass through
// by accident.
type readOnly struct {
	upstream agent.ExtendedAgent
}

var _ agent.ExtendedAgent = readOnly{}

func (r readOnly) List() ([]*agent.Key, error) { return r.upstream.List() }

func (r readOnly) Sign(key ssh.PublicKey, data []byte) (*ssh.Signature, error) {
	return r.upstream.Sign(key, data)
}

func (r readOnly) SignWithFlags(key ssh.PublicKey, data []byte, flags agent.SignatureFlags) (*ssh.Signature, error) {
	return r.upstream.SignWithFlags(key, data, flags)
}

func (readOnly) Add(agent.AddedKey) error       { return ErrReadOnly }
func (readOnly) Remove(ssh.PublicKey) error     { return ErrReadOnly }
func (readOnly) RemoveAll() error               { return ErrReadOnly }
func (readOnly) Lock([]byte) error              { return ErrReadOnly }
func (readOnly) Unlock([]byte) error            { return ErrReadOnly }
func (readOnly) Signers() ([]ssh.Signer, error) { return nil, ErrReadOnly }
func (readOnly) Extension(string, []byte) ([]byte, error) {
	return nil, agent.ErrExtensionUnsupported
}
