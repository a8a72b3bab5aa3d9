package audit

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"

	"github.com/hush-build/hush/internal/secret"
)

// patternInfo says what an automaton pattern stands for: a window of a form, a whole
// (short) form, or a detect rule's anchor.
type patternInfo struct {
	form  int32 // index in matcher.forms; -1 for anchors
	off   int   // offset of the window in the form
	whole bool  // the pattern is the whole form: a hit needs no verification
	rule  int   // detect rule index for anchors, -1 otherwise
}

// searchForm is one encoding of one secret value searched for.
type searchForm struct {
	secret string
	enc    secret.Encoding
	wrap   bool // line breaks may cut a copy (see wraps)
}

// matcher is everything one run searches for, compiled once and shared read-only by
// every layer's goroutine. Its forms refer to the values it was made from, which must
// outlive it.
type matcher struct {
	// ac finds the whole short forms and the detect anchors (nil when there are
	// none); acPats maps its pattern numbers to pats. grams finds the windows.
	ac      *automaton
	acPats  []int32
	grams   *gramIndex
	pats    []patternInfo
	forms   []searchForm
	rules   []rule
	files   []fileRule
	key     []byte
	fps     map[string]string // secret id → keyed fingerprint
	ids     []string
	skipped []string
}

func newMatcher(secrets map[string][]byte, opts Options) (*matcher, error) {
	m := &matcher{fps: map[string]string{}}
	if opts.FingerprintKey != nil {
		m.key = opts.FingerprintKey
	} else {
		m.key = make([]byte, 32)
		if _, err := rand.Read(m.key); err != nil {
			return nil, fmt.Errorf("generating fingerprint key: %w", err)
		}
	}
	ids := make([]string, 0, len(secrets))
	for id := range secrets {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var acPatterns, windowBytes [][]byte
	var windowPats []int32
	addPat := func(info patternInfo, b []byte) {
		if info.whole || info.rule >= 0 {
			acPatterns = append(acPatterns, b)
			m.acPats = append(m.acPats, int32(len(m.pats)))
		} else {
			windowBytes = append(windowBytes, b)
			windowPats = append(windowPats, int32(len(m.pats)))
		}
		m.pats = append(m.pats, info)
	}
	for _, id := range ids {
		v := secrets[id]
		if secret.Short(v) { // it would match by chance everywhere
			m.skipped = append(m.skipped, id)
			continue
		}
		m.ids = append(m.ids, id)
		m.fps[id] = m.fingerprint(id, v)
		for _, e := range matchEncodings(v) {
			fi := int32(len(m.forms))
			m.forms = append(m.forms, searchForm{secret: id, enc: e, wrap: wraps(e.Name)})
			offs := windows(&e, wraps(e.Name))
			if offs == nil {
				addPat(patternInfo{form: fi, whole: true, rule: -1}, e.Head)
			}
			for _, off := range offs {
				addPat(patternInfo{form: fi, off: off, rule: -1}, e.Head[off:off+winLen])
			}
		}
	}
	if opts.Detect {
		m.rules = detectRules()
		m.files = fileRules()
		for ri, r := range m.rules {
			for _, a := range r.anchors {
				addPat(patternInfo{form: -1, rule: ri}, []byte(a))
			}
		}
	}
	if len(windowBytes) > 0 {
		m.grams = newGramIndex(windowPats, windowBytes)
	}
	if len(acPatterns) > 0 {
		ac, ok := newAutomaton(acPatterns)
		if !ok {
			return nil, errors.New("building matcher: too many secret patterns")
		}
		m.ac = ac
	}
	return m, nil
}

// wipe zeroes the forms' heads once the search is over.
func (m *matcher) wipe() {
	for i := range m.forms {
		m.forms[i].enc.Wipe()
	}
}

// fingerprint is HMAC-SHA256(run key, label || 0 || value), truncated to 64 bits: equal
// within one report for equal values, and useless for guessing a value afterwards.
func (m *matcher) fingerprint(label string, value []byte) string {
	h := hmac.New(sha256.New, m.key)
	h.Write([]byte(label))
	h.Write([]byte{0})
	h.Write(value)
	return "hmac-sha256:" + hex.EncodeToString(h.Sum(nil)[:8])
}

// finding turns a raw hit into a finding at loc.
func (m *matcher) finding(h rawHit, loc Location) Finding {
	if h.rule >= 0 {
		return Finding{Rule: m.rules[h.rule].name, Fingerprint: h.fp, Location: loc, Count: 1}
	}
	f := &m.forms[h.form]
	return Finding{Secret: f.secret, Encoding: f.enc.Name, Fingerprint: m.fps[f.secret], Location: loc, Count: 1}
}

// scanBytes searches an in-memory value (a config string, an annotation) from its start.
func (m *matcher) scanBytes(b []byte) []rawHit {
	s := &stream{m: m, buf: b, w: len(b), eof: true, lastDone: m.newLastDone()}
	s.scan(0)
	return s.hits
}
