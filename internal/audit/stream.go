package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// defaultBufSize is the read size of a stream: large enough that the per-read overhead
// vanishes next to decompression, small enough to stay in L2 with the DFA's hot rows.
const defaultBufSize = 256 << 10

// keepLen bytes of already-scanned data stay in front of each new read, so a detect
// candidate near the end of one read can be verified with its following bytes.
const keepLen = 2 * maxCandidateLen

// rawHit is one verified occurrence at an offset of the stream: of a whole form, or of a
// detect rule's credential.
type rawHit struct {
	form  int32 // index in matcher.forms; -1 for detect hits
	start int64
	// rule and match are set for verified detect hits; match is the credential's
	// fingerprint, never the credential.
	rule int
	fp   string
}

type candidate struct {
	rule  int
	start int64
}

// stream reads an uncompressed stream once, running the matcher over every byte as it
// passes, and serves the same bytes to a consumer (archive/tar) through Read, and lets
// it skip file contents through Seek without copying them.
type stream struct {
	ctx     context.Context
	src     io.Reader
	m       *matcher
	buf     []byte
	r, w    int   // buf[r:w] is scanned but not yet consumed
	base    int64 // stream offset of buf[0]
	state   int32
	eof     bool
	err     error
	hits    []rawHit
	pending []candidate
	dropped int // hits beyond maxHits, counted but not kept
	// trackers follow candidate copies of long forms through the stream; lastDone is,
	// per form, the start of its last verified copy (-1: none), so the other windows of
	// that copy do not count it again; unverified counts candidates over maxTrackers.
	gpos       int64 // next sample offset for the gram index (a multiple of 8)
	trackers   []*tracker
	lastDone   []int64
	unverified int
}

// maxHits caps the hits kept per stream; a layer full of one secret still reports it.
const maxHits = 1 << 16

func newStream(ctx context.Context, src io.Reader, m *matcher, bufSize int) *stream {
	if bufSize <= 0 {
		bufSize = defaultBufSize
	}
	return &stream{ctx: ctx, src: src, m: m, buf: make([]byte, keepLen+bufSize), lastDone: m.newLastDone()}
}

// pos is the stream offset of the next byte the consumer gets.
func (s *stream) pos() int64 { return s.base + int64(s.r) }

// fill scans the next chunk of the source into the buffer. It is called only when every
// buffered byte has been consumed.
func (s *stream) fill() error {
	if s.err != nil {
		return s.err
	}
	if s.eof {
		return io.EOF
	}
	if err := s.ctx.Err(); err != nil {
		s.err = err
		return err
	}
	keepFrom := max(0, s.w-keepLen)
	copy(s.buf, s.buf[keepFrom:s.w])
	s.base += int64(keepFrom)
	s.w -= keepFrom
	s.r = s.w
	start := s.w
	limit := min(len(s.buf), start+len(s.buf)-keepLen) // one bufSize per fill
	for s.w < limit {
		n, err := s.src.Read(s.buf[s.w:limit])
		s.w += n
		if errors.Is(err, io.EOF) {
			s.eof = true
			break
		}
		if err != nil {
			s.err = fmt.Errorf("reading stream at offset %d: %w", s.base+int64(s.w), err)
			break
		}
	}
	s.scan(start)
	if s.err != nil {
		return s.err
	}
	if s.r == s.w && s.eof {
		return io.EOF
	}
	return nil
}

// scan follows the trackers over buf[from:w], runs the automaton over it, starts a
// tracker for each window hit, and verifies detect candidates whose window is now
// complete.
func (s *stream) scan(from int) {
	chunkBase := s.base + int64(from)
	s.advanceAll()
	if g := s.m.grams; g != nil {
		// Probe each sample offset once, when every window through it is buffered
		// (or the stream ends).
		last := s.base + int64(s.w) - winLen
		if s.eof || s.err != nil {
			last = s.base + int64(s.w) - 8
		}
		g.scan(s.m, s.buf[:s.w], s.base, s.gpos, last, func(p int32, start int64) {
			s.candidate(&s.m.pats[p], start)
		})
		if last >= s.gpos {
			s.gpos += 8 * ((last-s.gpos)/8 + 1)
		}
	}
	if s.m.ac != nil {
		s.state = s.m.ac.scan(s.state, s.buf[from:s.w], func(p int32, end int) {
			start := chunkBase + int64(end) - int64(s.m.ac.lengths[p])
			info := &s.m.pats[s.m.acPats[p]]
			switch {
			case info.rule >= 0:
				s.pending = append(s.pending, candidate{rule: info.rule, start: start})
			case info.whole:
				s.addHit(rawHit{form: info.form, start: start, rule: -1})
			}
		})
	}
	if s.eof || s.err != nil {
		s.dropTrackers()
	}
	kept := s.pending[:0]
	for _, c := range s.pending {
		if c.start+maxCandidateLen > s.base+int64(s.w) && !s.eof && s.err == nil {
			kept = append(kept, c)
			continue
		}
		i := int(c.start - s.base)
		if i < 0 { // cannot happen: keepLen covers a candidate window
			continue
		}
		var before byte
		if i > 0 {
			before = s.buf[i-1]
		}
		end := min(s.w, i+maxCandidateLen)
		if fp, ok := s.m.verify(c.rule, before, s.buf[i:end]); ok {
			s.addHit(rawHit{form: -1, start: c.start, rule: c.rule, fp: fp})
		}
	}
	s.pending = kept
}

func (s *stream) addHit(h rawHit) {
	if len(s.hits) >= maxHits {
		s.dropped++
		return
	}
	s.hits = append(s.hits, h)
}

// Read serves scanned bytes.
func (s *stream) Read(p []byte) (int, error) {
	if s.r == s.w {
		if err := s.fill(); err != nil && s.r == s.w {
			return 0, err
		}
	}
	n := copy(p, s.buf[s.r:s.w])
	s.r += n
	return n, nil
}

// Seek supports only whence io.SeekCurrent with offset ≥ 0, which archive/tar uses to
// skip file contents: the bytes are still scanned, just not copied out.
func (s *stream) Seek(offset int64, whence int) (int64, error) {
	if whence != io.SeekCurrent || offset < 0 {
		return s.pos(), errors.New("seeking audit stream: only forward relative seeks")
	}
	for offset > 0 {
		if s.r == s.w {
			if err := s.fill(); err != nil && s.r == s.w {
				if errors.Is(err, io.EOF) {
					break
				}
				return s.pos(), err
			}
		}
		n := min(offset, int64(s.w-s.r))
		s.r += int(n)
		offset -= n
	}
	return s.pos(), nil
}

// drain scans whatever the consumer did not read.
func (s *stream) drain() error {
	for {
		s.r = s.w
		if err := s.fill(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
