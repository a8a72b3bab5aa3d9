package audit

import (
	"bytes"
	"path"
	"regexp"
	"strings"
)

// maxCandidateLen is the longest credential a detect rule verifies (from its anchor).
const maxCandidateLen = 4096

// rule is one heuristic credential format: literal anchors found by the automaton, then
// a regular expression anchored at the anchor's start.
type rule struct {
	name    string
	anchors []string
	re      *regexp.Regexp
	// wordStart requires the byte before the anchor not to be a letter or digit.
	wordStart bool
}

// detectRules returns the heuristic rules. They are built per run (regexps are not
// package state) and are hush's own.
func detectRules() []rule {
	tok := `(?:[^A-Za-z0-9_]|$)`
	return []rule{
		{name: "private-key", anchors: []string{"-----BEGIN "},
			re: regexp.MustCompile(`^-----BEGIN [A-Z0-9 ]{0,24}PRIVATE KEY(?: BLOCK)?-----`)},
		{name: "aws-access-key-id", anchors: []string{"AKIA", "ASIA", "ABIA", "ACCA"}, wordStart: true,
			re: regexp.MustCompile(`^A(?:KIA|SIA|BIA|CCA)[A-Z2-7]{16}` + tok)},
		{name: "github-token", anchors: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_"}, wordStart: true,
			re: regexp.MustCompile(`^gh[pousr]_[A-Za-z0-9]{36}` + tok)},
		{name: "github-fine-grained-token", anchors: []string{"github_pat_"}, wordStart: true,
			re: regexp.MustCompile(`^github_pat_[A-Za-z0-9_]{82}`)},
		{name: "gitlab-token", anchors: []string{"glpat-", "gldt-", "glptt-", "glrt-"}, wordStart: true,
			re: regexp.MustCompile(`^gl(?:pat|dt|ptt|rt)-[A-Za-z0-9_-]{20,}`)},
		{name: "slack-token", anchors: []string{"xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe-", "xapp-"}, wordStart: true,
			re: regexp.MustCompile(`^(?:xox[bparse]-[0-9A-Za-z-]{10,}|xapp-[0-9]-[A-Za-z0-9-]{10,})`)},
		{name: "slack-webhook", anchors: []string{"hooks.slack.com/services/"},
			re: regexp.MustCompile(`^hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{16,}`)},
		{name: "npm-token", anchors: []string{"npm_"}, wordStart: true,
			re: regexp.MustCompile(`^npm_[A-Za-z0-9]{36}` + tok)},
		{name: "pypi-token", anchors: []string{"pypi-AgEIcHlwaS5vcmc"}, wordStart: true,
			re: regexp.MustCompile(`^pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}`)},
		{name: "jwt", anchors: []string{"eyJ"}, wordStart: true,
			re: regexp.MustCompile(`^eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}`)},
		{name: "docker-config-auth", anchors: []string{`"auth"`, `"identitytoken"`},
			re: regexp.MustCompile(`^"(?:auth"\s*:\s*"[A-Za-z0-9+/]{8,}={0,2}"|identitytoken"\s*:\s*"[^"\s]{8,}")`)},
	}
}

func isWordByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// verify checks a detect candidate; window starts at the anchor. It returns the
// credential's keyed fingerprint.
func (m *matcher) verify(ri int, before byte, window []byte) (string, bool) {
	r := &m.rules[ri]
	if r.wordStart && isWordByte(before) {
		return "", false
	}
	loc := r.re.FindIndex(window)
	if loc == nil {
		return "", false
	}
	return m.fingerprint("detect:"+r.name, window[loc[0]:loc[1]]), true
}

// fileRule is a credential file recognised by its path and confirmed by its content.
type fileRule struct {
	name  string
	match func(p string) bool
	re    *regexp.Regexp
}

// maxCredentialFile is how much of a credential file is read to confirm it.
const maxCredentialFile = 1 << 20

func fileRules() []fileRule {
	base := func(names ...string) func(string) bool {
		return func(p string) bool {
			b := path.Base(p)
			for _, n := range names {
				if b == n {
					return true
				}
			}
			return false
		}
	}
	suffix := func(s string) func(string) bool {
		return func(p string) bool { return p == s || strings.HasSuffix(p, "/"+s) }
	}
	return []fileRule{
		{name: "npmrc-token", match: base(".npmrc", "npmrc"),
			re: regexp.MustCompile(`(?m)(?:_authToken|_auth|_password)\s*=\s*\S`)},
		{name: "netrc-credentials", match: base(".netrc", "_netrc"),
			re: regexp.MustCompile(`(?m)\bpassword\s+\S`)},
		{name: "git-credentials", match: base(".git-credentials"),
			re: regexp.MustCompile(`[a-z][a-z0-9+.-]*://[^:/@\s]*:[^@\s]+@`)},
		{name: "aws-credentials-file", match: suffix(".aws/credentials"),
			re: regexp.MustCompile(`(?mi)^\s*aws_secret_access_key\s*=\s*\S`)},
		{name: "docker-config-file", match: suffix(".docker/config.json"),
			re: regexp.MustCompile(`"(?:auth|identitytoken)"\s*:\s*"[^"]+"`)},
	}
}

// credentialPath reports whether a file rule names p (checkFile then reads it).
func (m *matcher) credentialPath(p string) bool {
	for _, fr := range m.files {
		if fr.match(p) {
			return true
		}
	}
	return false
}

// checkFile reports the file rule a credential file at p with content b breaks, if any.
func (m *matcher) checkFile(p string, read func() ([]byte, error)) (string, string, error) {
	for _, fr := range m.files {
		if !fr.match(p) {
			continue
		}
		b, err := read()
		if err != nil {
			return "", "", err
		}
		if loc := fr.re.FindIndex(b); loc != nil {
			line := b[loc[0]:]
			if i := bytes.IndexByte(line, '\n'); i >= 0 {
				line = line[:i]
			}
			return fr.name, m.fingerprint("detect:"+fr.name, line), nil
		}
		return "", "", nil
	}
	return "", "", nil
}
