package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// contextShape says how big a generated build context is.
type contextShape struct {
	SmallFiles int // spread over directories of 100
	SmallMax   int // each small file has 1..SmallMax bytes
	BigFiles   int
	BigSize    int // bytes of incompressible data per big file
}

// defaultContext is ~2k small files plus a few MB: a typical source tree with some assets.
var defaultContext = contextShape{SmallFiles: 2000, SmallMax: 1024, BigFiles: 4, BigSize: 1 << 20}

// generateContext writes a deterministic build context into dir: small/dNN/fNNNN.txt
// (text) and big/blobN.bin (random bytes, so that compression cannot shortcut them).
// It returns the number of bytes written.
func generateContext(dir string, shape contextShape) (int64, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	var total int64
	write := func(name string, data []byte) error {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("creating context dir: %w", err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return fmt.Errorf("writing context file: %w", err)
		}
		total += int64(len(data))
		return nil
	}
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789 \n"
	for i := range shape.SmallFiles {
		n := 1
		if shape.SmallMax > 1 {
			n += rng.IntN(shape.SmallMax)
		}
		b := make([]byte, n)
		for k := range b {
			b[k] = letters[rng.IntN(len(letters))]
		}
		if err := write(filepath.Join("small", fmt.Sprintf("d%02d", i/100), fmt.Sprintf("f%04d.txt", i)), b); err != nil {
			return total, err
		}
	}
	for i := range shape.BigFiles {
		b := make([]byte, shape.BigSize)
		for k := 0; k+8 <= len(b); k += 8 {
			v := rng.Uint64()
			for s := range 8 {
				b[k+s] = byte(v >> (8 * s))
			}
		}
		if err := write(filepath.Join("big", fmt.Sprintf("blob%d.bin", i)), b); err != nil {
			return total, err
		}
	}
	return total, nil
}
