// Package jettest writes files in Codeship Jet's encrypted formats, for tests only (hush
// itself never writes them): fixtures for package jet and the pipelines of the
// end-to-end tests.
package jettest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
)

// Encrypt is Jet's scheme: base64(IV ‖ AES-256-CFB(body)), where body is the plaintext
// (v1) or hex(MD5(plaintext)) ‖ plaintext (v2, after a "codeship:v2" line). key is the
// 32-byte project key.
func Encrypt(key, pt []byte, v2 bool) ([]byte, error) {
	body := pt
	if v2 {
		sum := md5.Sum(pt)
		body = append([]byte(hex.EncodeToString(sum[:])), pt...)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, aes.BlockSize+len(body))
	if _, err := rand.Read(out[:aes.BlockSize]); err != nil {
		return nil, err
	}
	cipher.NewCFBEncrypter(block, out[:aes.BlockSize]).XORKeyStream(out[aes.BlockSize:], body) //nolint:staticcheck // Jet's format
	enc := []byte(base64.StdEncoding.EncodeToString(out))
	if v2 {
		enc = append([]byte("codeship:v2\n"), enc...)
	}
	return enc, nil
}

// KeyFile is a project key as codeship.aes holds it: base64 of the key.
func KeyFile(key []byte) []byte { return []byte(base64.StdEncoding.EncodeToString(key) + "\n") }
