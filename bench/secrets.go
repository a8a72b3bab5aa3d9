package main

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// printable returns n random printable ASCII bytes from seed (benchmark secrets: random,
// so that they occur nowhere by chance).
func printable(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(33 + r.IntN(94))
	}
	return b
}

// pemLike is about n bytes shaped like a CA bundle: base64 lines of 64 characters between
// BEGIN and END lines, certificate after certificate.
func pemLike(n int) []byte {
	var b strings.Builder
	for seed := uint64(1); b.Len() < n; seed++ {
		b.WriteString("-----BEGIN CERTIFICATE-----\n")
		body := base64.StdEncoding.EncodeToString(printable(seed, 1200))
		for len(body) > 0 {
			k := min(64, len(body))
			b.WriteString(body[:k] + "\n")
			body = body[k:]
		}
		b.WriteString("-----END CERTIFICATE-----\n")
	}
	return []byte(b.String())
}

// writeSecret writes a benchmark secret into dir (a tmpfs: secret values never go to a
// disk, benchmark ones included) and returns its path.
func writeSecret(dir, name string, value []byte) (string, error) {
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", fmt.Errorf("writing benchmark secret: %w", err)
	}
	if err := os.WriteFile(p, value, 0o600); err != nil {
		return "", fmt.Errorf("writing benchmark secret: %w", err)
	}
	return p, nil
}
