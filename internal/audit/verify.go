package audit

import (
	"bytes"

	"github.com/hush-build/hush/internal/secret"
)

// maxTrackers caps the candidate copies one stream follows at once. Only data that
// matches a form at many offsets at the same time (a value made of one repeated byte in
// a run of that byte) comes near it; candidates over the cap are counted in a warning.
const maxTrackers = 256

// tracker follows one candidate copy of a form: from a window hit, the bytes before it
// are checked against the head (candidate), then the rest of the form against the
// stream as it arrives (advance), until the form ends (a finding) or a byte differs.
type tracker struct {
	form  int32
	start int64 // stream offset of the copy's first byte
	pos   int64 // stream offset of the next byte to compare
	off   int   // offset in the form of the next byte to compare
	r     *secret.FormReader
	buf   []byte // bytes read from r
	next  []byte // the part of buf not yet compared
}

// trackResult is what advancing a tracker over the buffered stream found.
type trackResult int

const (
	trackMore trackResult = iota // matched to the end of the data so far
	trackDone                    // matched the whole form
	trackFail                    // a byte differs
)

func (m *matcher) newLastDone() []int64 {
	d := make([]int64, len(m.forms))
	for i := range d {
		d[i] = -1
	}
	return d
}

// candidate handles a hit of the window at info.off of a form starting at stream offset
// hitStart: it checks the bytes before the window, then starts a tracker unless this copy
// is already followed or was already found.
func (s *stream) candidate(info *patternInfo, hitStart int64) {
	f := &s.m.forms[info.form]
	start, ok := s.backward(f, info.off, hitStart)
	if !ok || s.lastDone[info.form] == start {
		return
	}
	for _, t := range s.trackers {
		if t.form == info.form && t.start == start {
			return
		}
	}
	if len(s.trackers) >= maxTrackers {
		s.unverified++
		return
	}
	t := &tracker{form: info.form, start: start, pos: hitStart, off: info.off}
	if s.advance(t) == trackMore {
		s.trackers = append(s.trackers, t)
	}
}

// backward matches the form's first k bytes against the stream before stream offset at
// (line breaks between them allowed for a form that wraps) and returns where the copy
// starts. The buffer keeps keepLen bytes before each read, more than a head.
func (s *stream) backward(f *searchForm, k int, at int64) (int64, bool) {
	i := int(at-s.base) - 1
	for j := k - 1; j >= 0; j-- {
		for f.wrap && i >= 0 && (s.buf[i] == '\n' || s.buf[i] == '\r') {
			i--
		}
		if i < 0 || s.buf[i] != f.enc.Head[j] {
			return 0, false
		}
		i--
	}
	return s.base + int64(i+1), true
}

// advanceAll moves every tracker over the newly buffered bytes.
func (s *stream) advanceAll() {
	kept := s.trackers[:0]
	for _, t := range s.trackers {
		if s.advance(t) == trackMore {
			kept = append(kept, t)
		}
	}
	clear(s.trackers[len(kept):])
	s.trackers = kept
}

// advance compares t's form with the stream from t.pos to the end of the buffered data.
// A whole match becomes a hit; a tracker that is done or failed is closed.
func (s *stream) advance(t *tracker) trackResult {
	f := &s.m.forms[t.form]
	data := s.buf[int(t.pos-s.base):s.w]
	res := trackMore
	for res == trackMore {
		want := t.pending(f)
		if want == nil {
			res = trackDone
			break
		}
		if len(data) == 0 {
			return trackMore
		}
		n := commonPrefix(want, data)
		t.consume(f, n)
		data = data[n:]
		t.pos += int64(n)
		if n < len(want) && len(data) > 0 {
			if f.wrap && (data[0] == '\n' || data[0] == '\r') {
				data = data[1:]
				t.pos++
				continue
			}
			res = trackFail
		}
	}
	if res == trackDone {
		s.addHit(rawHit{form: t.form, start: t.start, rule: -1})
		s.lastDone[t.form] = t.start
	}
	t.close()
	return res
}

// pending returns the form's next bytes not yet compared, or nil at its end.
func (t *tracker) pending(f *searchForm) []byte {
	head := f.enc.Head
	if t.off < len(head) {
		return head[t.off:]
	}
	if f.enc.Whole {
		return nil
	}
	if len(t.next) == 0 {
		if t.r == nil {
			t.r = f.enc.Open()
			t.buf = make([]byte, 4096)
			for skip := len(head); skip > 0; { // the head was compared already
				n, _ := t.r.Read(t.buf[:min(skip, len(t.buf))])
				if n == 0 {
					return nil
				}
				skip -= n
			}
		}
		n, _ := t.r.Read(t.buf)
		if n == 0 {
			return nil
		}
		t.next = t.buf[:n]
	}
	return t.next
}

func (t *tracker) consume(f *searchForm, n int) {
	if t.off >= len(f.enc.Head) {
		t.next = t.next[n:]
	}
	t.off += n
}

func (t *tracker) close() {
	if t.r != nil {
		t.r.Close()
		clear(t.buf)
		t.r, t.buf, t.next = nil, nil, nil
	}
}

// dropTrackers ends the candidates still open where the stream ends: a copy cut short.
func (s *stream) dropTrackers() {
	for _, t := range s.trackers {
		t.close()
	}
	clear(s.trackers)
	s.trackers = s.trackers[:0]
}

// commonPrefix is the length of the longest common prefix of a and b.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	if n >= 16 && bytes.Equal(a[:n], b[:n]) {
		return n
	}
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
