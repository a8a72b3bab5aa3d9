package lint

import (
	"bytes"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/hush-build/hush/internal/plan"
	"github.com/hush-build/hush/internal/secret"
)

// secretKeyDeny and secretKeyAllow are BuildKit's name rules for SecretsUsedInArgOrEnv
// (dockerfile2llb getSecretsRegex): a name is sensitive when a whole `_`-separated word
// is one of the deny tokens, unless one is also an allow token.
var (
	secretKeyDeny  = regexp.MustCompile(`(?i)(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)`)
	secretKeyAllow = regexp.MustCompile(`(?i)(?:_|^)(?:public|file|version)(?:_|$)`)
)

func sensitiveName(key string) bool {
	return secretKeyDeny.MatchString(key) && !secretKeyAllow.MatchString(key)
}

// vars is the variables an instruction's words expand against.
type vars struct {
	lex *shell.Lex
	m   map[string]string
}

func newVars(escape rune) *vars {
	if escape == 0 {
		escape = '\\'
	}
	return &vars{lex: shell.NewLex(escape), m: map[string]string{}}
}

func (v *vars) Get(k string) (string, bool) { s, ok := v.m[k]; return s, ok }
func (v *vars) Keys() []string              { return slices.Sorted(maps.Keys(v.m)) }

// expand expands word; on a syntax error, or past plan's size limit, it returns word unchanged.
func (v *vars) expand(word string) string {
	out, err := plan.ExpandWord(v.lex, word, v)
	if err != nil {
		return word
	}
	return out
}

// checkArg runs the ARG rules and records the ARG's effective value. global is nil for
// the ARGs before the first FROM (which are the global scope themselves).
func (c *checker) checkArg(cmd *instructions.ArgCommand, v, global *vars) {
	for _, a := range cmd.Args {
		if sensitiveName(a.Key) {
			c.report(cmd, RuleSecretsUsedInArgOrEnv, Warning,
				"Do not use ARG or ENV instructions for sensitive data (%s %q)", "ARG", a.Key)
		}
		if a.Value != nil {
			c.checkLiteral(cmd, "ARG", a.Key, *a.Value, "default value")
			if id, ok := c.secrets.find(v.expand(*a.Value)); ok {
				c.report(cmd, RuleSecretInEnv, Error,
					"default value of ARG %s holds the value of secret %q; ARG values are recorded in the history of RUN steps that use them", a.Key, id)
			}
		}
		switch val, ok := c.opts.BuildArgs[a.Key]; {
		case ok:
			v.m[a.Key] = val
		case a.Value != nil:
			v.m[a.Key] = v.expand(*a.Value)
		case global != nil:
			if g, ok := global.m[a.Key]; ok {
				v.m[a.Key] = g
			}
		}
	}
}

func (c *checker) checkEnv(cmd *instructions.EnvCommand, v *vars) {
	for _, kv := range cmd.Env {
		if sensitiveName(kv.Key) {
			c.report(cmd, RuleSecretsUsedInArgOrEnv, Warning,
				"Do not use ARG or ENV instructions for sensitive data (%s %q)", "ENV", kv.Key)
		}
		c.checkLiteral(cmd, "ENV", kv.Key, kv.Value, "value")
		val := v.expand(kv.Value)
		if id, ok := c.secrets.find(val); ok {
			c.report(cmd, RuleSecretInEnv, Error,
				"ENV %s holds the value of secret %q, which would be stored in the image config; mount it with RUN --mount=type=secret,id=%s instead", kv.Key, id, id)
		}
		v.m[kv.Key] = val
	}
}

func (c *checker) checkLabel(cmd *instructions.LabelCommand, v *vars) {
	for _, kv := range cmd.Labels {
		c.checkLiteral(cmd, "LABEL", kv.Key, kv.Value, "value")
		if id, ok := c.secrets.find(v.expand(kv.Value)); ok {
			c.report(cmd, RuleSecretInEnv, Error,
				"LABEL %s holds the value of secret %q, which would be stored in the image config", kv.Key, id)
		}
	}
}

// checkLiteral flags a credential-shaped literal in what the Dockerfile itself says.
func (c *checker) checkLiteral(cmd instructions.Command, instr, key, value, what string) {
	if kind := credentialKind(value); kind != "" {
		c.report(cmd, RuleHardcodedCredential, Error,
			"%s of %s %s looks like %s; pass it with --secret and RUN --mount=type=secret instead", what, instr, key, kind)
	}
}

// checkBuildArgs flags --build-arg values that hold a supplied secret, at the first ARG
// that declares them (line 0 when none does: the value is still in the build's inputs).
func (c *checker) checkBuildArgs(declared map[string]instructions.Command) {
	for _, k := range slices.Sorted(maps.Keys(c.opts.BuildArgs)) {
		id, ok := c.secrets.find(c.opts.BuildArgs[k])
		if !ok {
			continue
		}
		c.report(declared[k], RuleSecretInBuildArg, Error,
			"--build-arg %s holds the value of secret %q; build args are recorded in the image history: use RUN --mount=type=secret,id=%s instead", k, id, id)
	}
}

// secretIndex finds supplied secret values, in any of their forms, inside strings. A
// value's forms are worked out the first time a string is long enough to hold one (no
// form is shorter than the value without its surrounding white space), so a long secret
// (a CA bundle) costs nothing when only short strings are checked.
type secretIndex struct {
	ids    []string
	values map[string][]byte
	forms  map[string][]secret.Encoding
}

func newSecretIndex(values map[string][]byte) *secretIndex {
	s := &secretIndex{values: map[string][]byte{}, forms: map[string][]secret.Encoding{}}
	for _, id := range slices.Sorted(maps.Keys(values)) {
		if len(values[id]) == 0 {
			continue
		}
		s.ids = append(s.ids, id)
		s.values[id] = values[id]
	}
	return s
}

// find returns the id of the first secret that value holds in any form: anywhere, or
// for a secret.Short value's raw bytes only as a whole word (`u:pin@host`, not `spinner`).
func (s *secretIndex) find(value string) (string, bool) {
	b := []byte(value)
	for _, id := range s.ids {
		if len(b) < len(bytes.TrimSpace(s.values[id])) {
			continue
		}
		if _, ok := s.forms[id]; !ok {
			s.forms[id] = secret.Encodings(s.values[id])
		}
		for i := range s.forms[id] {
			if s.forms[id][i].In(b) {
				return id, true
			}
		}
	}
	return "", false
}

func (s *secretIndex) wipe() {
	for _, fs := range s.forms {
		for i := range fs {
			fs[i].Wipe()
		}
	}
	s.forms, s.values = nil, nil
}

// String keeps values out of any accidental %v.
func (s *secretIndex) String() string {
	return fmt.Sprintf("secretIndex(%s)", strings.Join(s.ids, ","))
}
