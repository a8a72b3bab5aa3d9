package secretfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// Sentinels callers branch on; every error wraps at most one of them.
var (
	// ErrNoIdentity means no identity was found in any of the places hush looks.
	ErrNoIdentity = errors.New("no age identity found")
	// ErrNoIdentityMatch means identities were found but none can open the file.
	ErrNoIdentityMatch = errors.New("no identity matched")
	// ErrCorrupt means the encrypted file is truncated, damaged or was tampered with.
	ErrCorrupt = errors.New("encrypted file is truncated, damaged or was tampered with")
)

// binaryMagic starts every binary age file; armor.Header every armored one.
const binaryMagic = "age-encryption.org/v1\n"

// IsEncrypted reports whether data is an age file, armored or binary, judged by its header
// alone (leading whitespace is allowed before the armor, as age allows it).
func IsEncrypted(data []byte) bool {
	return bytes.HasPrefix(data, []byte(binaryMagic)) || isArmored(data)
}

func isArmored(data []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte(armor.Header))
}

// Encrypt returns plaintext encrypted to recipients, ASCII-armored.
func Encrypt(plaintext []byte, recipients ...age.Recipient) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, errors.New("encrypting: no recipients")
	}
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, recipients...)
	if err != nil {
		return nil, fmt.Errorf("encrypting: %w", err)
	}
	if _, err := w.Write(plaintext); err != nil {
		return nil, fmt.Errorf("encrypting: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encrypting: %w", err)
	}
	if err := aw.Close(); err != nil {
		return nil, fmt.Errorf("encrypting: %w", err)
	}
	return buf.Bytes(), nil
}

// Decrypt opens an age file (armored or binary) with the first identity that matches and
// returns the plaintext. Errors wrap ErrNoIdentityMatch or ErrCorrupt and never hold
// plaintext.
func Decrypt(data []byte, identities ...age.Identity) ([]byte, error) {
	if len(identities) == 0 {
		return nil, fmt.Errorf("decrypting: %w", ErrNoIdentity)
	}
	var src io.Reader = bytes.NewReader(data)
	if isArmored(data) {
		src = armor.NewReader(src)
	} else if !bytes.HasPrefix(data, []byte(binaryMagic)) {
		return nil, errors.New("decrypting: not an age-encrypted file")
	}
	r, err := age.Decrypt(src, identities...)
	if err != nil {
		var nim *age.NoIdentityMatchError
		if errors.As(err, &nim) {
			return nil, fmt.Errorf("decrypting: %w: the file is encrypted to %d recipient(s) and none of the %d identities tried is one of them",
				ErrNoIdentityMatch, len(nim.StanzaTypes), len(identities))
		}
		return nil, fmt.Errorf("decrypting: %w (%w)", ErrCorrupt, err)
	}
	// The plaintext is smaller than the file: one buffer of the file's size holds it, and
	// readAll zeroes any buffer it would outgrow.
	pt, err := readAll(r, len(data)+1, len(data))
	if err != nil {
		return nil, fmt.Errorf("decrypting: %w (%w)", ErrCorrupt, err)
	}
	return pt, nil
}

// WriteEncrypted encrypts plaintext to recipients and replaces path atomically: the
// ciphertext goes to a temporary file in the same directory, is synced, and is renamed
// over path. A new file gets mode perm; an existing one keeps its mode.
func WriteEncrypted(path string, plaintext []byte, perm os.FileMode, recipients ...age.Recipient) error {
	ct, err := Encrypt(plaintext, recipients...)
	if err != nil {
		return err
	}
	return writeAtomic(path, ct, perm)
}

// Rekey re-encrypts the age file at path to a new recipient set, in place and atomically.
// The secrets themselves do not change: anyone who could read them before still knows
// them, so rekeying after a key is removed must be followed by rotating the secrets.
// A recipients sidecar (see SidecarPath) next to path is rewritten to the new set.
func Rekey(path string, identities []age.Identity, recipients []age.Recipient) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("rekeying %s: %w", path, err)
	}
	pt, err := Decrypt(data, identities...)
	if err != nil {
		return fmt.Errorf("rekeying %s: %w", path, err)
	}
	defer clear(pt)
	if err := WriteEncrypted(path, pt, 0o600, recipients...); err != nil {
		return fmt.Errorf("rekeying %s: %w", path, err)
	}
	sidecar := SidecarPath(path)
	if _, err := os.Stat(sidecar); err == nil {
		if err := writeAtomic(sidecar, FormatRecipients(recipients), 0o644); err != nil {
			return fmt.Errorf("rekeying %s: updating recipients: %w", path, err)
		}
	}
	return nil
}

// writeAtomic writes data to a temporary file beside path and renames it into place.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	if fi, err := os.Stat(path); err == nil {
		perm = fi.Mode().Perm()
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
