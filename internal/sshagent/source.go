package sshagent

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// ErrPassphraseProtected reports a key file that needs a passphrase. hush does
// not prompt; such keys have to be loaded into an ssh-agent whose socket is
// then passed with --ssh.
var ErrPassphraseProtected = errors.New("passphrase-protected keys are not supported: load the key into an ssh-agent (ssh-add) and pass its socket with --ssh ID=$SSH_AUTH_SOCK instead")

// ErrNoAgent reports a spec without paths while SSH_AUTH_SOCK is unset.
var ErrNoAgent = errors.New("no ssh agent: SSH_AUTH_SOCK is not set; start ssh-agent or pass a socket or key files with --ssh ID=PATH")

// maxKeyFileBytes bounds how much of a key file is read; real keys are a few KiB.
const maxKeyFileBytes = 100 << 10

// Source is one configured agent: a forwarded socket or an in-memory keyring.
type Source struct {
	id string
	// socket is the upstream agent socket; empty when keyring is used.
	socket string
	// keyring holds the keys loaded from files; nil when socket is used.
	keyring agent.ExtendedAgent

	mu     sync.Mutex
	closed bool
}

// Open resolves spec into a Source. A spec without paths uses the socket in
// env("SSH_AUTH_SOCK"). Otherwise the paths are either exactly one agent
// socket, or one or more private key files, which are parsed now and kept
// only in memory.
func Open(spec Spec, env func(string) string) (*Source, error) {
	id := spec.ID
	if id == "" {
		id = DefaultID
	}
	paths := spec.Paths
	if len(paths) == 0 {
		sock := ""
		if env != nil {
			sock = env("SSH_AUTH_SOCK")
		}
		if sock == "" {
			return nil, fmt.Errorf("opening ssh agent %q: %w", id, ErrNoAgent)
		}
		paths = []string{sock}
	}

	var sockets, keyFiles []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("opening ssh agent %q: %w", id, err)
		}
		switch {
		case fi.Mode()&os.ModeSocket != 0:
			sockets = append(sockets, p)
		case fi.Mode().IsRegular():
			keyFiles = append(keyFiles, p)
		default:
			return nil, fmt.Errorf("opening ssh agent %q: %s is neither an agent socket nor a key file", id, p)
		}
	}
	switch {
	case len(sockets) > 1:
		return nil, fmt.Errorf("opening ssh agent %q: only one agent socket allowed, got %d", id, len(sockets))
	case len(sockets) == 1 && len(keyFiles) > 0:
		return nil, fmt.Errorf("opening ssh agent %q: cannot mix an agent socket (%s) with key files", id, sockets[0])
	case len(sockets) == 1:
		return &Source{id: id, socket: sockets[0]}, nil
	}

	kr, ok := agent.NewKeyring().(agent.ExtendedAgent)
	if !ok {
		return nil, fmt.Errorf("opening ssh agent %q: keyring does not support signature flags", id)
	}
	for _, p := range keyFiles {
		if err := addKeyFile(kr, p); err != nil {
			_ = kr.RemoveAll()
			return nil, fmt.Errorf("opening ssh agent %q: %w", id, err)
		}
	}
	return &Source{id: id, keyring: kr}, nil
}

// addKeyFile parses one private key file into kr. Errors name the file but
// never carry its content.
func addKeyFile(kr agent.Agent, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening key file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	defer clear(data)
	if err != nil {
		return fmt.Errorf("reading key file %s: %w", path, err)
	}
	if len(data) > maxKeyFileBytes {
		return fmt.Errorf("reading key file %s: larger than %d bytes, not a private key", path, maxKeyFileBytes)
	}
	key, err := ssh.ParseRawPrivateKey(data)
	if err != nil {
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return fmt.Errorf("loading key file %s: %w", path, ErrPassphraseProtected)
		}
		if _, _, _, _, perr := ssh.ParseAuthorizedKey(data); perr == nil {
			return fmt.Errorf("loading key file %s: this is a public key, pass the private key file", path)
		}
		// The ssh package's parse errors are fixed strings, not key material.
		return fmt.Errorf("loading key file %s: %w", path, err)
	}
	if err := kr.Add(agent.AddedKey{PrivateKey: key, Comment: filepath.Base(path)}); err != nil {
		return fmt.Errorf("loading key file %s: %w", path, err)
	}
	return nil
}

// ID is the agent id that RUN --mount=type=ssh,id=... refers to.
func (s *Source) ID() string { return s.id }

// Close wipes the in-memory keys. Connections still being served see an
// empty agent afterwards, and Serve refuses to start new ones.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.keyring != nil {
		if err := s.keyring.RemoveAll(); err != nil {
			return fmt.Errorf("wiping keys of ssh agent %q: %w", s.id, err)
		}
	}
	return nil
}

func (s *Source) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
