package jet

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Sentinels callers branch on.
var (
	// ErrWrongKey means a v2 file's checksum did not match: the key is not the one the
	// file was encrypted with (or the file was altered).
	ErrWrongKey = errors.New("the key does not match this file")
	// ErrProbablyWrongKey means a v1 file (which carries no checksum) decrypted to
	// something that is not text in KEY=value or JSON form.
	ErrProbablyWrongKey = errors.New("the decrypted data is not a KEY=value env file or JSON; the key is probably wrong")
)

// Version is the Jet file format version.
type Version int

// The formats Jet wrote.
const (
	V1 Version = 1
	V2 Version = 2
)

const (
	keySize  = 32
	ivSize   = aes.BlockSize
	v2Header = "codeship:v2"
	sumSize  = 2 * md5.Size // hex digits
)

// Key is a project AES key.
type Key struct{ b []byte }

// ParseKey parses a key file: base64 of 32 bytes, surrounding whitespace ignored.
func ParseKey(data []byte) (*Key, error) {
	raw := bytes.TrimSpace(data)
	b := make([]byte, base64.StdEncoding.DecodedLen(len(raw)))
	n, err := base64.StdEncoding.Decode(b, raw)
	if err != nil {
		clear(b)
		return nil, errors.New("parsing Jet key: not base64")
	}
	if n != keySize {
		clear(b)
		return nil, fmt.Errorf("parsing Jet key: %d bytes, want %d (is this the project's AES key file?)", n, keySize)
	}
	return &Key{b: b[:n]}, nil
}

// Wipe zeroes the key.
func (k *Key) Wipe() { clear(k.b) }

// Decrypt decrypts a Jet-encrypted file with key and reports its format version.
// A v2 file is verified by its checksum (ErrWrongKey on mismatch); a v1 file has none,
// so its plaintext must be UTF-8 text in KEY=value or JSON form (else ErrProbablyWrongKey).
func Decrypt(key *Key, data []byte) ([]byte, Version, error) {
	version := V1
	body := data
	if rest, ok := cutHeader(data); ok {
		version, body = V2, rest
	}
	ct, err := decodeBase64(body)
	if err != nil {
		return nil, version, fmt.Errorf("decrypting Jet v%d file: %w", version, err)
	}
	if len(ct) < ivSize {
		return nil, version, fmt.Errorf("decrypting Jet v%d file: too short (%d bytes) to hold the IV", version, len(ct))
	}
	block, err := aes.NewCipher(key.b)
	if err != nil {
		return nil, version, fmt.Errorf("decrypting Jet v%d file: %w", version, err)
	}
	pt := make([]byte, len(ct)-ivSize)
	// CFB is what Jet used; it is read here for migration only (see the package doc).
	cipher.NewCFBDecrypter(block, ct[:ivSize]).XORKeyStream(pt, ct[ivSize:]) //nolint:staticcheck // Jet's format
	if version == V2 {
		if len(pt) < sumSize {
			clear(pt)
			return nil, version, fmt.Errorf("decrypting Jet v2 file: %w (too short for its checksum)", ErrWrongKey)
		}
		sum := md5.Sum(pt[sumSize:])
		want := []byte(hex.EncodeToString(sum[:]))
		if subtle.ConstantTimeCompare(bytes.ToLower(pt[:sumSize]), want) != 1 {
			clear(pt)
			return nil, version, fmt.Errorf("decrypting Jet v2 file: %w (checksum mismatch)", ErrWrongKey)
		}
		out := bytes.Clone(pt[sumSize:])
		clear(pt)
		return out, version, nil
	}
	if !plausible(pt) {
		clear(pt)
		return nil, version, fmt.Errorf("decrypting Jet v1 file: %w", ErrProbablyWrongKey)
	}
	return pt, version, nil
}

// cutHeader strips a leading "codeship:v2" line.
func cutHeader(data []byte) ([]byte, bool) {
	line, rest, found := bytes.Cut(data, []byte("\n"))
	if !found || string(bytes.TrimSpace(line)) != v2Header {
		return nil, false
	}
	return rest, true
}

// decodeBase64 decodes standard base64, ignoring line breaks and surrounding whitespace.
func decodeBase64(body []byte) ([]byte, error) {
	compact := bytes.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, body)
	out, err := base64.StdEncoding.DecodeString(string(compact))
	if err != nil {
		return nil, errors.New("body is not base64 (is this a Jet-encrypted file?)")
	}
	return out, nil
}

// plausible reports whether pt is what Jet users encrypted: UTF-8 text without control
// characters other than tab, CR and LF, that is an env file (KEY=value lines, blank
// lines, # comments) or JSON (a dockercfg).
func plausible(pt []byte) bool {
	if !utf8.Valid(pt) {
		return false
	}
	for _, c := range pt {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	if json.Valid(pt) {
		return true
	}
	for _, line := range bytes.Split(pt, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		key, _, ok := bytes.Cut(line, []byte("="))
		key = bytes.TrimPrefix(key, []byte("export "))
		if !ok || !isEnvKey(bytes.TrimSpace(key)) {
			return false
		}
	}
	return true
}

func isEnvKey(k []byte) bool {
	if len(k) == 0 || k[0] >= '0' && k[0] <= '9' {
		return false
	}
	for _, c := range k {
		if c != '_' && !(c >= 'A' && c <= 'Z') && !(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
