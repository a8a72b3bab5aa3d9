package audit

// automaton is a small Aho-Corasick DFA over byte classes: bytes that occur in no pattern
// share class 0, so the transition table is nstates × nclasses int32s. A transition
// value is the next state's row offset (state × nclasses), with the sign bit set when the
// next state ends at least one pattern.
type automaton struct {
	class    [256]uint8
	nclasses int
	trans    []int32
	// out lists, per state (indexed by row offset / nclasses), the patterns ending there.
	out     [][]int32
	lengths []int // pattern lengths, by pattern index
}

const matchBit = -1 << 31

// newAutomaton builds the DFA for patterns (none empty). It fails only if the table
// would not fit int32 offsets.
func newAutomaton(patterns [][]byte) (*automaton, bool) {
	a := &automaton{lengths: make([]int, len(patterns))}
	a.setClasses(patterns)
	for pi, p := range patterns {
		a.lengths[pi] = len(p)
	}
	gotoTab, out := trie(patterns, a.class, a.nclasses)
	if int64(len(out))*int64(a.nclasses) >= 1<<31 {
		return nil, false
	}
	a.complete(gotoTab, out)
	return a, true
}

// setClasses gives each byte that occurs in a pattern a class of its own, and every other
// byte class 0.
func (a *automaton) setClasses(patterns [][]byte) {
	var used [256]bool
	for _, p := range patterns {
		for _, b := range p {
			used[b] = true
		}
	}
	n := 0
	for b := 0; b < 256; b++ {
		if used[b] {
			n++
			a.class[b] = uint8(n) // n ≤ 255 here unless every byte is used
		}
	}
	a.nclasses = n + 1
	if n == 256 { // every byte value occurs: one class per byte
		a.nclasses = 256
		for b := 0; b < 256; b++ {
			a.class[b] = uint8(b)
		}
	}
}

// trie builds the patterns' trie over byte classes: gotoTab[s*nc+c] is the next state + 1
// (0: none), out[s] the patterns ending at state s.
func trie(patterns [][]byte, class [256]uint8, nc int) (gotoTab []int32, out [][]int32) {
	gotoTab = make([]int32, nc)
	out = [][]int32{nil}
	for pi, p := range patterns {
		s := 0
		for _, b := range p {
			c := int(class[b])
			n := gotoTab[s*nc+c]
			if n == 0 {
				out = append(out, nil)
				gotoTab = append(gotoTab, make([]int32, nc)...)
				n = int32(len(out) - 1 + 1)
				gotoTab[s*nc+c] = n
			}
			s = int(n - 1)
		}
		out[s] = append(out[s], int32(pi))
	}
	return gotoTab, out
}

// complete turns the trie into the DFA, breadth-first: fail links, then every transition,
// as row offsets with the match bit.
func (a *automaton) complete(gotoTab []int32, out [][]int32) {
	nc, nstates := a.nclasses, len(out)
	fail := make([]int32, nstates)
	a.trans = make([]int32, nstates*nc)
	queue := make([]int32, 0, nstates)
	for c := 0; c < nc; c++ {
		if n := gotoTab[c]; n != 0 {
			queue = append(queue, n-1)
			a.trans[c] = n - 1
		}
	}
	for qi := 0; qi < len(queue); qi++ {
		s := int(queue[qi])
		out[s] = append(out[s], out[fail[s]]...)
		for c := 0; c < nc; c++ {
			n := gotoTab[s*nc+c]
			if n == 0 {
				a.trans[s*nc+c] = a.trans[int(fail[s])*nc+c]
				continue
			}
			child := n - 1
			fail[child] = a.trans[int(fail[s])*nc+c]
			a.trans[s*nc+c] = child
			queue = append(queue, child)
		}
	}
	// Convert state numbers to row offsets with the match bit.
	for i, s := range a.trans {
		v := s * int32(nc)
		if len(out[s]) > 0 {
			v |= matchBit
		}
		a.trans[i] = v
	}
	a.out = out
}

// scan runs the DFA over buf from state (a row offset, match bit clear) and calls hit
// with each pattern ending at buf[i] (end = i+1). It returns the state to carry into the
// next buffer of the same stream.
func (a *automaton) scan(state int32, buf []byte, hit func(pattern int32, end int)) int32 {
	trans, class := a.trans, &a.class
	s := state
	for i, b := range buf {
		s = trans[int(s)+int(class[b])]
		if s < 0 {
			s &^= matchBit
			for _, p := range a.out[int(s)/a.nclasses] {
				hit(p, i+1)
			}
		}
	}
	return s
}
