package secret

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/hush-build/hush/internal/secretfile"
)

// FingerprintKey is the per-state-dir random key for keyed secret fingerprints. It is
// kept with mode 0600 in the state dir and never exported with an image or cache.
type FingerprintKey struct{ key []byte }

// LoadFingerprintKey reads the key at path, creating 32 random bytes on first use.
func LoadFingerprintKey(path string) (*FingerprintKey, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(b) == 32 {
		return &FingerprintKey{key: b}, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading fingerprint key: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generating fingerprint key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("writing fingerprint key: %w", err)
	}
	tmp := path + ".tmp"
	_ = os.Remove(tmp) // a dead writer's; never followed (O_EXCL below)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("writing fingerprint key: %w", err)
	}
	_, err = f.Write(key)
	if err = errors.Join(err, f.Close()); err != nil {
		return nil, fmt.Errorf("writing fingerprint key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("writing fingerprint key: %w", err)
	}
	return &FingerprintKey{key: key}, nil
}

// Fingerprint is HMAC-SHA256(key, id || 0 || value), hex: it changes with the value but
// cannot be tested against a guessed value without the key.
func (k *FingerprintKey) Fingerprint(id string, value []byte) string {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(id))
	m.Write([]byte{0})
	m.Write(value)
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))
}

// ValueFingerprint is HMAC-SHA256(K, value), hex, under a key K derived from the state
// dir's key for this use only: a keyed fingerprint of a value whatever id it was given
// under (the audit ledger records which values a layer was audited clean against).
func (k *FingerprintKey) ValueFingerprint(value []byte) string {
	sub := hmac.New(sha256.New, k.key)
	sub.Write([]byte("hush audit ledger v1"))
	m := hmac.New(sha256.New, sub.Sum(nil))
	m.Write(value)
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))
}

// ReadFingerprintKey reads a fingerprint key that several machines share (--fingerprint-key),
// so that they compute the same rebuild-on-change cache keys: 64 hex digits (32 random
// bytes, e.g. `openssl rand -hex 32`), in a plain file or an age-encrypted one decrypted in
// memory with the user's identities (lookupEnv finds them). Errors never show the content.
func ReadFingerprintKey(path string, lookupEnv func(string) (string, bool)) (*FingerprintKey, error) {
	data, err := secretfile.OpenEnv(path, lookupEnv)
	if err != nil {
		return nil, fmt.Errorf("fingerprint key: %w", err)
	}
	defer clear(data)
	text := bytes.TrimSpace(data)
	key := make([]byte, hex.DecodedLen(len(text)))
	if n, err := hex.Decode(key, text); err != nil || n != 32 {
		clear(key)
		return nil, fmt.Errorf("fingerprint key %s: want 64 hex digits (32 random bytes: openssl rand -hex 32)", path)
	}
	return &FingerprintKey{key: key}, nil
}

// LoadTmpfsKey reads the key named name under dir/hush-keys, creating 32 random bytes on
// first use. dir must be a tmpfs (secretfile.IsTmpfs): the key dies with a reboot, and a
// copy of the state dir has no way to check guesses against what it keys.
//
// dir may be shared (/dev/shm is everyone's): hush-keys in it must be a real directory
// of this user's with mode 0700, or another user could plant a key of their choosing or
// a symlink that root would write through.
func LoadTmpfsKey(dir, name string) (*FingerprintKey, error) {
	if !secretfile.IsTmpfs(dir) {
		return nil, fmt.Errorf("%s is not a tmpfs: the key %s is kept only on one", dir, name)
	}
	keys := filepath.Join(dir, "hush-keys")
	if err := os.Mkdir(keys, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("creating %s: %w", keys, err)
	}
	if err := privateDir(keys); err != nil {
		return nil, err
	}
	return LoadFingerprintKey(filepath.Join(keys, name))
}

// privateDir checks that dir is a directory (not a symlink) of this user's that no one
// else can enter.
func privateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s must be a directory of user %d with mode 0700 (it holds keys); remove it", dir, os.Geteuid())
	}
	return nil
}
