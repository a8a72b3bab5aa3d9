package secretfile

import (
	"fmt"
	"os"
)

// MaxFileSize caps what Open reads, matching secret.MaxSize.
const MaxFileSize = 16 << 20

// Open returns the plaintext of the file at path when it is age-encrypted (armored or
// binary, detected by its header), decrypted in memory with the user's identities (see
// FindIdentities, with the process environment), and its plain contents otherwise.
func Open(path string) ([]byte, error) {
	return OpenEnv(path, os.LookupEnv)
}

// OpenEnv is Open with identities found through lookupEnv.
func OpenEnv(path string, lookupEnv func(string) (string, bool)) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening secret file: %w", err)
	}
	defer f.Close()
	hint := 0
	if fi, err := f.Stat(); err == nil {
		hint = int(min(fi.Size(), MaxFileSize)) + 1
	}
	data, err := readAll(f, hint, MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	pt, err := Reveal(data, lookupEnv)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return pt, nil
}

// Reveal returns data itself when it is not age-encrypted, and its plaintext (a new
// buffer) when it is. Identities are looked up only for encrypted data.
func Reveal(data []byte, lookupEnv func(string) (string, bool)) ([]byte, error) {
	if !IsEncrypted(data) {
		return data, nil
	}
	ids, err := FindIdentities(lookupEnv)
	if err != nil {
		return nil, err
	}
	return Decrypt(data, ids...)
}
