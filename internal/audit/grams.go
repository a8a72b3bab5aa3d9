package audit

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"
)

// gramIndex finds the winLen-byte windows of the forms with one probe per 8 bytes of
// data, whatever their number: a window occurring at stream offset s holds the 8 bytes
// at the one multiple of 8 in [s, s+8), at offset d = p−s < 8 of the window, so each
// window is indexed under its 8 grams (d = 0…7). A probe hashes the gram into a bit
// filter sized at 64 bits per entry (one chance probe in 64 goes on to the table).
type gramIndex struct {
	filter []uint64
	shift  uint // 64 − log2(filter bits)
	slots  []gramSlot
	mask   uint64
	ents   []gramEnt // grouped by gram; a slot points at its group
}

type gramSlot struct {
	gram       uint64
	start, end int32 // ents[start:end]; end 0: empty slot
}

type gramEnt struct {
	pattern int32 // index in matcher.pats
	d       int32 // offset of the gram in the window
}

const gramMul = 0x9E3779B97F4A7C15

// newGramIndex indexes the windows windows[i] (each winLen bytes) of patterns pats[i].
func newGramIndex(pats []int32, windows [][]byte) *gramIndex {
	type raw struct {
		gram uint64
		ent  gramEnt
	}
	var all []raw
	for i, w := range windows {
		for d := 0; d < 8; d++ {
			all = append(all, raw{binary.LittleEndian.Uint64(w[d:]), gramEnt{pats[i], int32(d)}})
		}
	}
	slices.SortFunc(all, func(a, b raw) int {
		switch {
		case a.gram < b.gram:
			return -1
		case a.gram > b.gram:
			return 1
		}
		return int(a.ent.pattern - b.ent.pattern)
	})
	fbits := max(bits.Len(uint(len(all)*64-1)), 12)
	nslots := 1 << max(bits.Len(uint(len(all)*2-1)), 4)
	g := &gramIndex{filter: make([]uint64, 1<<fbits/64), shift: uint(64 - fbits),
		slots: make([]gramSlot, nslots), mask: uint64(nslots - 1)}
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].gram == all[i].gram {
			g.ents = append(g.ents, all[j].ent)
			j++
		}
		x := all[i].gram
		h := (x * gramMul) >> g.shift
		g.filter[h>>6] |= 1 << (h & 63)
		for s := (x * gramMul) & g.mask; ; s = (s + 1) & g.mask {
			if g.slots[s].end == 0 {
				g.slots[s] = gramSlot{gram: x, start: int32(len(g.ents) - (j - i)), end: int32(len(g.ents))}
				break
			}
		}
		i = j
	}
	return g
}

// scan probes the sample offsets p = from, from+8, … up to and including last (stream
// offsets; buf[0] is at base) and calls hit for each window found whole in buf.
func (g *gramIndex) scan(m *matcher, buf []byte, base, from, last int64, hit func(pattern int32, start int64)) {
	filter, shift := g.filter, g.shift
	for p := from; p <= last; p += 8 {
		i := int(p - base)
		x := binary.LittleEndian.Uint64(buf[i : i+8])
		h := (x * gramMul) >> shift
		if filter[h>>6]&(1<<(h&63)) == 0 {
			continue
		}
		for s := (x * gramMul) & g.mask; g.slots[s].end != 0; s = (s + 1) & g.mask {
			if g.slots[s].gram != x {
				continue
			}
			for _, e := range g.ents[g.slots[s].start:g.slots[s].end] {
				at := i - int(e.d)
				if at < 0 || at+winLen > len(buf) {
					continue
				}
				info := &m.pats[e.pattern]
				if bytes.Equal(buf[at:at+winLen], m.forms[info.form].enc.Head[info.off:info.off+winLen]) {
					hit(e.pattern, base+int64(at))
				}
			}
			break
		}
	}
}
