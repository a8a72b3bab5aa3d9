package secret

import "bytes"

// cont is a form longer than HeadLen being masked past its head: it yields the bytes of
// the form that a copy in the output would go on with.
type cont struct {
	r   *FormReader
	buf [512]byte
	b   []byte // the part of buf not yet compared
}

// newCont starts after e's head.
func newCont(e *Encoding) *cont {
	c := &cont{r: e.Open()}
	for skip := len(e.Head); skip > 0; {
		n, _ := c.r.Read(c.buf[:min(skip, len(c.buf))])
		if n == 0 {
			break
		}
		skip -= n
	}
	return c
}

// match consumes the longest prefix of data that goes on with the form and returns its
// length, and whether the form ended there.
func (c *cont) match(data []byte) (int, bool) {
	n := 0
	for {
		if len(c.b) == 0 {
			k, err := c.r.Read(c.buf[:])
			if k == 0 && err != nil {
				return n, true
			}
			c.b = c.buf[:k]
		}
		m := commonPrefix(c.b, data[n:])
		n += m
		c.b = c.b[m:]
		if len(c.b) > 0 {
			return n, false
		}
	}
}

func (c *cont) close() {
	clear(c.buf[:])
	c.r.Close()
}

// endConts drops the active continuations.
func (r *Redactor) endConts() {
	for _, c := range r.conts {
		c.close()
	}
	r.conts = nil
}

// extendLong adds to runs those of the forms longer than HeadLen: the active
// continuations, resuming at pending[masked], and each occurrence of a long form's head
// that starts before limit, each run going on for as long as pending matches the form.
// A run that matches up to pending's end, its form not ended and the stream not ending
// (final), stays active for the next call. It returns the runs merged.
func (r *Redactor) extendLong(runs []span, limit int, final bool) []span {
	var next []*cont
	follow := func(c *cont, start, from int) int {
		n, ended := c.match(r.pending[from:])
		runs = append(runs, span{start, from + n})
		if !ended && from+n == len(r.pending) && !final {
			next = append(next, c)
		} else {
			c.close()
		}
		return from + n
	}
	for _, c := range r.conts {
		follow(c, 0, max(r.masked, 0))
	}
	for i := range r.patterns {
		p := &r.patterns[i]
		if p.long == nil {
			continue
		}
		end := 0 // a head inside this form's previous run is that run's business
		for at := 0; at < limit; at++ {
			j := bytes.Index(r.pending[at:], p.b)
			if j < 0 || at+j >= limit {
				break
			}
			if at += j; at >= end {
				end = follow(newCont(p.long), at, at+len(p.b))
			}
		}
	}
	r.conts = next
	return mergeSpans(runs)
}
