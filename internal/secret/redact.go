package secret

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
)

// Mask replaces every run of secret bytes in redacted output.
const Mask = "****"

// shrinkAbove is the buffer capacity past which a large Write's buffers are dropped
// rather than kept for the next one.
const shrinkAbove = 64 << 10

// MinMaskLen is the value length under which ShortValues counts a value: it is masked,
// but so is every unrelated occurrence of the same few bytes.
const MinMaskLen = 4

// ErrClosed is returned by writes to a closed Redactor.
var ErrClosed = errors.New("redactor closed")

// Redactor is a streaming writer that replaces every occurrence of every secret value, and
// of each of its Forms, with Mask before the bytes reach the wrapped writer. Occurrences
// split across Write calls are found: the Redactor holds back the longest tail of what it
// was given that is a proper prefix of some form (never more than the longest form minus
// one byte) and passes everything before it through at once, so output that cannot begin
// a secret is never delayed. Overlapping or adjacent occurrences are masked as one run, so
// no byte of any occurrence is ever written. Text that is not part of an occurrence is
// written byte for byte.
//
// Values of any length are masked. A value shorter than MinMaskLen bytes (see
// ShortValues) masks every occurrence of those bytes in unrelated text too, garbling
// output; hush prefers garbled output to a leaked value, and callers should warn about
// such values. Encoded forms shorter than MinFormLen are not masked (see Forms).
//
// A Redactor is safe for concurrent use: Writes are serialised and treated as one stream,
// in the order the calls take the lock. Close flushes and zeroes its buffers; it does not
// close the wrapped writer.
type Redactor struct {
	mu       sync.Mutex
	w        io.Writer
	patterns [][]byte
	shared   bool // patterns belong to a Masks; Close leaves them alone
	short    int
	pending  []byte // held-back tail: bytes that may begin an occurrence
	// masked is how many leading bytes of pending a written Mask already covers; an
	// occurrence starting at or before it continues that run. -1: no run reaches pending.
	masked int
	out    []byte
	err    error
	closed bool
}

var _ io.WriteCloser = (*Redactor)(nil)

// NewRedactor returns a Redactor writing to w that masks values and their Forms. It keeps
// its own copies of the values' forms; the caller may wipe values afterwards.
func NewRedactor(w io.Writer, values [][]byte) *Redactor {
	m := NewMasks(values)
	return &Redactor{w: w, masked: -1, patterns: m.patterns, short: m.short}
}

// Masks is a set of values compiled once (every Form of every value) for the many
// Redactors of one build, one per step.
type Masks struct {
	patterns [][]byte
	short    int
}

// NewMasks compiles values; it keeps its own copies, so the caller may wipe values.
func NewMasks(values [][]byte) *Masks {
	m := &Masks{}
	for _, v := range values {
		if len(v) == 0 {
			continue
		}
		if len(v) < MinMaskLen {
			m.short++
		}
		for _, f := range Forms(v) {
			// No map: its string keys would be copies of secrets that cannot be zeroed.
			if slices.ContainsFunc(m.patterns, func(p []byte) bool { return bytes.Equal(p, f.Bytes) }) {
				clear(f.Bytes)
				continue
			}
			m.patterns = append(m.patterns, f.Bytes)
		}
	}
	return m
}

// Writer returns a Redactor over w sharing m's patterns. A nil Masks masks nothing.
func (m *Masks) Writer(w io.Writer) *Redactor {
	if m == nil {
		return &Redactor{w: w, masked: -1, shared: true}
	}
	return &Redactor{w: w, masked: -1, patterns: m.patterns, short: m.short, shared: true}
}

// Wipe zeroes the compiled patterns; Redactors from Writer must be closed first.
func (m *Masks) Wipe() {
	if m == nil {
		return
	}
	for _, p := range m.patterns {
		clear(p)
	}
	m.patterns = nil
}

// Redact returns text with every occurrence of values and their Forms masked, for whole
// strings such as an error message or a metadata file. It never fails.
func Redact(text []byte, values [][]byte) []byte {
	var b bytes.Buffer
	r := NewRedactor(&b, values)
	r.Write(text) // a bytes.Buffer never fails
	r.Close()
	return b.Bytes()
}

// ShortValues reports how many values were shorter than MinMaskLen bytes: they are
// masked, but so is every unrelated occurrence of the same few bytes.
func (r *Redactor) ShortValues() int { return r.short }

// Write masks p and passes on everything that can no longer be part of an occurrence.
// It reports len(p) unless the wrapped writer failed.
func (r *Redactor) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, ErrClosed
	}
	if r.err != nil {
		return 0, r.err
	}
	r.pending = append(r.pending, p...)
	if err := r.process(false); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes the held-back tail as it is. A value split across a Flush is not
// recognised, so call it only where a stream ends (a step's output, the last line).
func (r *Redactor) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	if r.err != nil {
		return r.err
	}
	return r.process(true)
}

// Close flushes the held-back tail, then zeroes and drops every buffer and pattern.
// Later writes fail with ErrClosed. Closing twice is a no-op.
func (r *Redactor) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	var err error
	if r.err == nil {
		err = r.process(true)
	}
	r.closed = true
	clear(r.pending[:cap(r.pending)])
	clear(r.out[:cap(r.out)])
	if !r.shared {
		for _, p := range r.patterns {
			clear(p)
		}
	}
	r.pending, r.out, r.patterns = nil, nil, nil
	return err
}

// process masks r.pending, writes what is decided and keeps the rest. With final set,
// everything is decided.
func (r *Redactor) process(final bool) error {
	keep := 0
	if !final {
		keep = heldBack(r.pending, r.patterns)
	}
	limit := len(r.pending) - keep
	runs := occurrences(r.pending, r.patterns, limit)
	out := r.out[:0]
	pos := max(r.masked, 0) // bytes before pos were already written (inside a Mask)
	runEnd := r.masked      // end of the last written run; -1 when none reaches pending
	for _, run := range runs {
		if run.start > pos {
			out = append(out, r.pending[pos:run.start]...)
		}
		if run.start > runEnd {
			out = append(out, Mask...)
		}
		pos = max(pos, run.end)
		runEnd = pos
	}
	if pos < limit {
		out = append(out, r.pending[pos:limit]...)
		pos = limit
	}
	r.out = out
	if len(out) > 0 {
		if _, err := r.w.Write(out); err != nil {
			r.err = fmt.Errorf("writing redacted output: %w", err)
			return r.err
		}
	}
	// Drop the decided bytes and keep the tail from limit. Bytes of the tail that a
	// written run already covers must not be written again, and an occurrence touching
	// that run continues it rather than starting a second Mask.
	n := copy(r.pending, r.pending[limit:])
	clear(r.pending[n:])
	r.pending = r.pending[:n]
	if cap(r.pending) > shrinkAbove && n < shrinkAbove/4 {
		old := r.pending[:cap(r.pending)]
		r.pending = append([]byte(nil), r.pending...)
		clear(old)
	}
	if cap(r.out) > shrinkAbove {
		clear(r.out[:cap(r.out)])
		r.out = nil
	}
	r.masked = -1
	if runEnd >= limit {
		r.masked = runEnd - limit
	}
	return nil
}

// heldBack is the length of the longest tail of buf that is a proper prefix of some
// pattern: an occurrence completed by later writes can only start there.
func heldBack(buf []byte, patterns [][]byte) int {
	keep := 0
	for _, p := range patterns {
		end := len(buf) - keep // only a start before end beats keep
		for i := max(len(buf)-len(p)+1, 0); i < end; {
			j := bytes.IndexByte(buf[i:end], p[0])
			if j < 0 {
				break
			}
			i += j
			if bytes.HasPrefix(p, buf[i:]) {
				keep = len(buf) - i
				break
			}
			i++
		}
	}
	return keep
}

type span struct{ start, end int }

// occurrences returns the merged runs (overlapping or touching) covered by occurrences
// of any pattern in buf that start before limit, sorted by start.
func occurrences(buf []byte, patterns [][]byte, limit int) []span {
	var all []span
	for _, p := range patterns {
		var cur span
		have := false
		for i := 0; i < limit; {
			j := bytes.Index(buf[i:], p)
			if j < 0 || i+j >= limit {
				break
			}
			s := span{i + j, i + j + len(p)}
			if have && s.start <= cur.end {
				cur.end = s.end
			} else {
				if have {
					all = append(all, cur)
				}
				cur, have = s, true
			}
			i = s.start + 1
		}
		if have {
			all = append(all, cur)
		}
	}
	if len(all) < 2 {
		return all
	}
	slices.SortFunc(all, func(a, b span) int { return a.start - b.start })
	merged := all[:1]
	for _, s := range all[1:] {
		last := &merged[len(merged)-1]
		if s.start <= last.end {
			last.end = max(last.end, s.end)
			continue
		}
		merged = append(merged, s)
	}
	return merged
}
