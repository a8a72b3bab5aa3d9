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

// ErrClosed is returned by writes to a closed Redactor.
var ErrClosed = errors.New("redactor closed")

// Redactor is a streaming writer that replaces every occurrence of every secret value, and
// of each of its Forms, with Mask before the bytes reach the wrapped writer. Occurrences
// split across Write calls are found: the Redactor holds back the longest tail of what it
// was given that may begin an occurrence (a proper prefix of some form, or a whole Word
// form still waiting for the byte after it; never more than the longest form) and passes
// everything before it through at once, so output that cannot begin a secret is never
// delayed. Overlapping or adjacent occurrences are masked as one run, so no byte of any
// occurrence is ever written. Text that is not part of an occurrence is written byte for
// byte.
//
// Values of any length are masked. A form longer than HeadLen bytes (a CA bundle, a
// kubeconfig) is recognised by its first HeadLen bytes and then masked for as long as
// the output goes on matching it, so a whole copy is masked from its first byte to its
// last, and so is a copy cut short after its first HeadLen bytes; a piece of such a form
// that does not hold its first HeadLen bytes is not masked. The Redactor holds back at
// most HeadLen-1 bytes for such a form, whatever the value's size. The raw bytes of a Short value are masked only where
// they stand as a whole word (the bytes before and after them, across Write calls, are
// not ASCII letters, digits or '_'; the start of the stream counts as a boundary, and so
// does its end at a Flush or Close), so a 2-byte secret "ab" leaves "about a cab" alone
// but masks "pin: ab."; callers should warn about such values. Encoded forms shorter
// than MinSearchable are not masked (see Forms); the others, and every form of a longer
// value, are masked anywhere.
//
// A Redactor is safe for concurrent use: Writes are serialised and treated as one stream,
// in the order the calls take the lock. Close flushes and zeroes its buffers; it does not
// close the wrapped writer.
type Redactor struct {
	mu       sync.Mutex
	w        io.Writer
	patterns []pattern
	shared   bool   // patterns belong to a Masks; Close leaves them alone
	pending  []byte // held-back tail: bytes that may begin an occurrence
	// prev is the input byte just before pending (a word boundary check needs it once
	// that byte is written), or noByte at the start of the stream.
	prev int
	// masked is how many leading bytes of pending a written Mask already covers; an
	// occurrence starting at or before it continues that run. -1: no run reaches pending.
	masked int
	out    []byte
	// conts are long forms being masked past their heads whose copy reached the end
	// of pending: the next byte to compare is pending[masked].
	conts  []*cont
	err    error
	closed bool
}

var _ io.WriteCloser = (*Redactor)(nil)

// pattern is one form to mask; word: only as a whole word (Form.Word). For a form
// longer than HeadLen, b is its head and long streams the whole form.
type pattern struct {
	b    []byte
	word bool
	long *Encoding
}

// NewRedactor returns a Redactor writing to w that masks values and their Forms. It keeps
// its own copies of the values' forms; the caller may wipe values afterwards.
func NewRedactor(w io.Writer, values [][]byte) *Redactor {
	return newRedactor(w, NewMasks(values).patterns, false)
}

func newRedactor(w io.Writer, patterns []pattern, shared bool) *Redactor {
	return &Redactor{w: w, patterns: patterns, shared: shared, prev: noByte, masked: -1}
}

// Masks is a set of values compiled once (every encoding of every value) for the many
// Redactors of one build, one per step.
type Masks struct {
	patterns []pattern
	values   [][]byte // copies that long forms are streamed from
}

// NewMasks compiles values; it keeps its own copies, so the caller may wipe values.
func NewMasks(values [][]byte) *Masks {
	m := &Masks{}
	for _, v := range values {
		v = bytes.Clone(v)
		kept := false
		for _, e := range Encodings(v) {
			if !e.Whole {
				m.patterns = append(m.patterns, pattern{b: e.Head, long: &e})
				kept = true
				continue
			}
			// No map: its string keys would be copies of secrets that cannot be zeroed.
			i := slices.IndexFunc(m.patterns, func(p pattern) bool { return p.long == nil && bytes.Equal(p.b, e.Head) })
			if i < 0 {
				m.patterns = append(m.patterns, pattern{b: e.Head, word: e.Word})
				continue
			}
			m.patterns[i].word = m.patterns[i].word && e.Word // masking anywhere wins
			e.Wipe()
		}
		if kept {
			m.values = append(m.values, v)
		} else {
			clear(v)
		}
	}
	return m
}

// Writer returns a Redactor over w sharing m's patterns. A nil Masks masks nothing.
func (m *Masks) Writer(w io.Writer) *Redactor {
	if m == nil {
		return newRedactor(w, nil, true)
	}
	return newRedactor(w, m.patterns, true)
}

// Wipe zeroes the compiled patterns; Redactors from Writer must be closed first.
func (m *Masks) Wipe() {
	if m == nil {
		return
	}
	for _, p := range m.patterns {
		clear(p.b)
	}
	for _, v := range m.values {
		clear(v)
	}
	m.patterns, m.values = nil, nil
}

// Redact returns text with every occurrence of values and their Forms masked, for whole
// strings such as an error message or a metadata file. It never fails.
func Redact(text []byte, values [][]byte) []byte {
	m := NewMasks(values)
	defer m.Wipe()
	return m.Redact(text)
}

// Redact returns text with every mask applied. It never fails.
func (m *Masks) Redact(text []byte) []byte {
	var b bytes.Buffer
	r := m.Writer(&b)
	r.Write(text) // a bytes.Buffer never fails
	r.Close()
	return b.Bytes()
}

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
	r.endConts()
	clear(r.pending[:cap(r.pending)])
	clear(r.out[:cap(r.out)])
	if !r.shared {
		for _, p := range r.patterns {
			clear(p.b)
			if p.long != nil {
				clear(p.long.src.value)
			}
		}
	}
	r.pending, r.out, r.patterns, r.prev = nil, nil, nil, noByte
	return err
}

// process masks r.pending, writes what is decided and keeps the rest. With final set,
// everything is decided.
func (r *Redactor) process(final bool) error {
	keep := 0
	if !final {
		keep = heldBack(r.pending, r.patterns, r.prev)
	}
	limit := len(r.pending) - keep
	runs := occurrences(r.pending, r.patterns, limit, r.prev)
	runs = r.extendLong(runs, limit, final)
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
	if limit > 0 {
		r.prev = int(r.pending[limit-1])
	}
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

// heldBack is the length of the longest tail of buf that may begin an occurrence: a
// proper prefix of some pattern, or of a word pattern preceded by a word boundary the
// whole pattern too (the byte after it decides). An occurrence completed by later writes
// can only start there. prev is the byte before buf.
func heldBack(buf []byte, patterns []pattern, prev int) int {
	keep := 0
	for _, p := range patterns {
		n := len(p.b) - 1
		if p.word {
			n++
		}
		end := len(buf) - keep // only a start before end beats keep
		for i := max(len(buf)-n, 0); i < end; {
			j := bytes.IndexByte(buf[i:end], p.b[0])
			if j < 0 {
				break
			}
			i += j
			if bytes.HasPrefix(p.b, buf[i:]) && (!p.word || !isWordByte(byteAt(buf, i-1, prev))) {
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
// of any pattern in buf that start before limit, sorted by start. A word pattern counts
// only where it stands as a whole word; prev is the byte before buf, and buf's end is a
// boundary (heldBack keeps a word occurrence at the end unless the stream ends there).
func occurrences(buf []byte, patterns []pattern, limit, prev int) []span {
	var all []span
	for _, p := range patterns {
		if p.long != nil {
			continue // see extendLong
		}
		var cur span
		have := false
		for i := 0; i < limit; {
			j := bytes.Index(buf[i:], p.b)
			if j < 0 || i+j >= limit {
				break
			}
			s := span{i + j, i + j + len(p.b)}
			i = s.start + 1
			if p.word && !wholeWord(buf, s.start, s.end, prev) {
				continue
			}
			if have && s.start <= cur.end {
				cur.end = s.end
			} else {
				if have {
					all = append(all, cur)
				}
				cur, have = s, true
			}
		}
		if have {
			all = append(all, cur)
		}
	}
	return mergeSpans(all)
}

// mergeSpans sorts spans by start and merges those that overlap or touch.
func mergeSpans(all []span) []span {
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
