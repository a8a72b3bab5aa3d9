package sshagent

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
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
	// keys are the parsed private keys behind keyring, zeroed by Close (the keyring's
	// RemoveAll only drops its references).
	keys []any

	mu     sync.Mutex
	closed bool
}

// Open resolves spec into a Source. A spec without paths uses the socket in
// env("SSH_AUTH_SOCK"). Otherwise the paths are either exactly one agent
// socket, or one or more private key files, which are parsed now and kept
// only in memory. readKey reads a key file (hush's secret set reads it once and
// keeps it for masking and the audit); nil reads it directly. Open wipes what
// readKey returns.
func Open(spec Spec, env func(string) string, readKey func(path string) ([]byte, error)) (*Source, error) {
	if readKey == nil {
		readKey = ReadKeyFile
	}
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
	var keys []any
	for _, p := range keyFiles {
		key, err := addKeyFile(kr, p, readKey)
		if err != nil {
			_ = kr.RemoveAll()
			wipeKeys(keys)
			return nil, fmt.Errorf("opening ssh agent %q: %w", id, err)
		}
		keys = append(keys, key)
	}
	return &Source{id: id, keyring: kr, keys: keys}, nil
}

// ReadKeyFile reads one private key file, at most maxKeyFileBytes (real keys are a few
// KiB); the caller wipes it.
func ReadKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening key file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		clear(data)
		return nil, fmt.Errorf("reading key file %s: %w", path, err)
	}
	if len(data) > maxKeyFileBytes {
		clear(data)
		return nil, fmt.Errorf("reading key file %s: larger than %d bytes, not a private key", path, maxKeyFileBytes)
	}
	return data, nil
}

// addKeyFile parses one private key file into kr. Errors name the file but
// never carry its content.
func addKeyFile(kr agent.Agent, path string, readKey func(string) ([]byte, error)) (any, error) {
	data, err := readKey(path)
	defer clear(data)
	if err != nil {
		return nil, err
	}
	key, err := ssh.ParseRawPrivateKey(data)
	if err != nil {
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, fmt.Errorf("loading key file %s: %w", path, ErrPassphraseProtected)
		}
		if _, _, _, _, perr := ssh.ParseAuthorizedKey(data); perr == nil {
			return nil, fmt.Errorf("loading key file %s: this is a public key, pass the private key file", path)
		}
		// The ssh package's parse errors are fixed strings, not key material.
		return nil, fmt.Errorf("loading key file %s: %w", path, err)
	}
	if err := kr.Add(agent.AddedKey{PrivateKey: key, Comment: filepath.Base(path)}); err != nil {
		wipeKeys([]any{key})
		return nil, fmt.Errorf("loading key file %s: %w", path, err)
	}
	return key, nil
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
	wipeKeys(s.keys)
	s.keys = nil
	return nil
}

// wipeKeys zeroes the secret parts of parsed private keys.
func wipeKeys(keys []any) {
	for _, k := range keys {
		switch k := k.(type) {
		case *ed25519.PrivateKey:
			clear(*k)
		case ed25519.PrivateKey:
			clear(k)
		case *rsa.PrivateKey:
			clear(k.D.Bits())
			for _, p := range k.Primes {
				clear(p.Bits())
			}
			k.Precomputed = rsa.PrecomputedValues{}
		case *ecdsa.PrivateKey:
			if k.D != nil {
				clear(k.D.Bits())
			}
		}
	}
}

func (s *Source) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
