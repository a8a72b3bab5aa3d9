package secretfile

import (
	"errors"
	"fmt"
	"io"
)

// errTooLarge is returned by readAll past its limit.
var errTooLarge = errors.New("too large")

// readAll reads r to the end into one buffer, starting at hint bytes and zeroing every
// buffer it outgrows, so a secret read through it leaves no stray copies in memory. It
// fails past limit bytes (the buffer is zeroed then too).
func readAll(r io.Reader, hint, limit int) ([]byte, error) {
	buf := make([]byte, 0, max(hint, 512))
	for {
		if len(buf) == cap(buf) {
			bigger := make([]byte, len(buf), 2*cap(buf))
			copy(bigger, buf)
			clear(buf)
			buf = bigger
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > limit {
			clear(buf)
			return nil, fmt.Errorf("larger than the %d MiB limit: %w", limit>>20, errTooLarge)
		}
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			clear(buf[:cap(buf)])
			return nil, err
		}
	}
}
