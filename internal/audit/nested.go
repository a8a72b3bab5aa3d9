package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
)

// Limits on searching gzip files inside a layer (a `gzip` or `tar czf` run by a step):
// each file is searched decompressed up to maxGzipEntry bytes, and a layer's gzip files up
// to maxGzipPerLayer bytes in all; what lies beyond is named in a warning. Files inside
// such a file are not decompressed again.
const (
	maxGzipEntry    = 64 << 20
	maxGzipPerLayer = 256 << 20
)

// gzipBudget is what is left of one layer's allowance, and what went past it.
type gzipBudget struct {
	left    int64
	partial []string // files searched only in part, with how much
	skipped int      // files not searched inside at all
}

// scan searches inside the tar entry r when it is a gzip file: its decompressed bytes go
// through a stream of their own, findings at loc with compression "gzip" and offsets in
// the decompressed content. Anything else is left for the tar reader to skip.
func (b *gzipBudget) scan(ctx context.Context, m *matcher, r io.Reader, size int64, bufSize int, loc Location) ([]Finding, error) {
	var magic [2]byte
	n, err := io.ReadFull(r, magic[:])
	if err != nil || magic != [2]byte{0x1f, 0x8b} {
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, err
		}
		return nil, nil
	}
	if b.left <= 0 {
		b.skipped++
		return nil, nil
	}
	zr, err := gzip.NewReader(io.MultiReader(bytes.NewReader(magic[:n]), r))
	if err != nil {
		return nil, nil // not gzip after all: its bytes were searched as they are
	}
	defer zr.Close()
	limit := min(b.left, maxGzipEntry)
	lr := &io.LimitedReader{R: zr, N: limit}
	if bufSize <= 0 { // a small file (most are: changelogs, man pages) needs no large buffer
		bufSize = int(min(defaultBufSize, max(16<<10, 8*size)))
	}
	st := newStream(ctx, lr, m, bufSize)
	if err := st.drain(); err != nil && ctx.Err() != nil {
		return nil, err
	}
	// A corrupt or cut gzip file ends the search of its inside there; what was read
	// counts, and its compressed bytes were searched as they are.
	used := limit - lr.N
	b.left -= used
	if lr.N == 0 {
		if k, _ := zr.Read(magic[:1]); k > 0 {
			b.partial = append(b.partial, fmt.Sprintf("%s: only the first %d MiB of this gzip file were searched decompressed", loc.Path, used>>20))
		}
	}
	loc.Compression = "gzip"
	var out []Finding
	for _, h := range st.hits {
		l := loc
		l.Offset = h.start
		out = append(out, m.finding(h, l))
	}
	return out, nil
}

// warnings names what the budget left unsearched.
func (b *gzipBudget) warnings(base Location) []string {
	var out []string
	for _, p := range b.partial {
		out = append(out, base.short()+": "+p)
	}
	if b.skipped > 0 {
		out = append(out, fmt.Sprintf("%s: %d gzip file(s) past the first %d MiB decompressed were searched only as they are", base.short(), b.skipped, maxGzipPerLayer>>20))
	}
	return out
}
