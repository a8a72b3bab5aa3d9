package pipeline

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// lockedWriter serialises whole writes of several sources onto one writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// prefixWriter writes each complete line with a prefix, in one write, so lines of
// parallel steps interleave but never mix; Close writes what is left of a last line.
type prefixWriter struct {
	mu     sync.Mutex
	prefix string
	out    io.Writer
	buf    []byte
}

func newPrefixWriter(out io.Writer, prefix string) *prefixWriter {
	return &prefixWriter{prefix: prefix, out: out}
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	var out bytes.Buffer
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		out.WriteString(p.prefix)
		out.Write(p.buf[:i+1])
		p.buf = p.buf[i+1:]
	}
	if out.Len() > 0 {
		if _, err := p.out.Write(out.Bytes()); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// Close writes a last line that had no newline.
func (p *prefixWriter) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) == 0 {
		return nil
	}
	line := append([]byte(p.prefix), p.buf...)
	p.buf = nil
	_, err := p.out.Write(append(line, '\n'))
	return err
}

// result is how one run or push step ended.
type result struct {
	status string // passed, failed, skipped (tag|exclude|no --push), not run
	dur    time.Duration
}

// summary writes the table that ends a run: each run and push step, its status and
// duration, in the steps file's order.
func summary(w io.Writer, names []string, results map[string]*result) {
	width := len("STEP")
	for _, n := range names {
		width = max(width, len(n))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s  %-22s  %s\n", width, "STEP", "STATUS", "DURATION")
	for _, n := range names {
		res := results[n]
		if res == nil {
			res = &result{status: "not run"}
		}
		d := ""
		if res.dur > 0 {
			d = res.dur.Round(10 * time.Millisecond).String()
		}
		fmt.Fprintf(&b, "%-*s  %-22s  %s\n", width, n, res.status, d)
	}
	io.WriteString(w, b.String())
}
