package plan

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

const (
	// MaxValueBytes bounds one expanded word (an ARG, ENV or LABEL value, a path, a
	// mount option) and the variable values substituted while expanding it.
	MaxValueBytes = 1 << 20
	// MaxEnvBytes bounds a step's environment: the KEY=value bytes of the base image's
	// Env, the ENV and the ARG values together (and of the global ARGs).
	MaxEnvBytes = 16 << 20
)

// budgetEnv is the environment the shell lexer reads while expanding one word. It
// charges every value it hands out against MaxValueBytes, so that $B$B$B… is stopped
// before the lexer builds it: once over budget it answers "" and remembers the variable.
type budgetEnv struct {
	env  shell.EnvGetter
	left int
	// scale makes a value cost more when the word replaces patterns (${v//p/r}), where
	// each byte of v may turn into a whole replacement string.
	scale int
	over  string
}

// replaces matches the start of a ${name/pattern/replacement} substitution.
var replaces = regexp.MustCompile(`\$\{([A-Za-z0-9_]+|[@*#?$!-])/`)

func newBudget(env shell.EnvGetter, word string) *budgetEnv {
	b := &budgetEnv{env: env, left: MaxValueBytes}
	if replaces.MatchString(word) {
		b.scale = 1 + len(word)
	}
	return b
}

// Get implements shell.EnvGetter.
func (b *budgetEnv) Get(key string) (string, bool) {
	v, ok := b.env.Get(key)
	if !ok || b.over != "" {
		return "", ok
	}
	cost := len(v)
	if b.scale > 0 {
		// A replacement is at most the word's text plus what was substituted so far.
		cost = len(v) * (b.scale + MaxValueBytes - b.left)
	}
	if cost > b.left || cost < 0 {
		b.over = key
		return "", ok
	}
	b.left -= cost
	return v, ok
}

// Keys implements shell.EnvGetter.
func (b *budgetEnv) Keys() []string { return b.env.Keys() }

// tooBig reports word's expansion past MaxValueBytes, naming the variable that took it over.
func tooBig(word, variable string) error {
	at := ""
	if variable != "" {
		at = " (reached at $" + variable + ")"
	}
	return fmt.Errorf("expanding %s would exceed %s, the limit for one expanded value%s", quoteShort(word), sizeName(MaxValueBytes), at)
}

// ExpandWord expands word with lex and env within MaxValueBytes: a word whose
// substituted values or result would pass it is an error, found before it is built.
func ExpandWord(lex *shell.Lex, word string, env shell.EnvGetter) (string, error) {
	b := newBudget(env, word)
	v, _, err := lex.ProcessWord(word, b)
	if b.over != "" {
		return "", tooBig(word, b.over)
	}
	if err != nil {
		return "", lexError(word, err)
	}
	if len(v) > MaxValueBytes {
		return "", tooBig(word, "")
	}
	return v, nil
}

// expandWords is expandWord splitting the result into words (EXPOSE).
func expandWords(lex *shell.Lex, word string, env shell.EnvGetter) ([]string, error) {
	b := newBudget(env, word)
	vs, err := lex.ProcessWords(word, b)
	if b.over != "" {
		return nil, tooBig(word, b.over)
	}
	if err != nil {
		return nil, lexError(word, err)
	}
	return vs, nil
}

// lexError drops the lexer's "failed to process <the whole word>" wrapping, which puts a
// word of any length into the message, and names the word briefly instead.
func lexError(word string, err error) error {
	inner := err
	for strings.HasPrefix(inner.Error(), "failed to process ") && errors.Unwrap(inner) != nil {
		inner = errors.Unwrap(inner)
	}
	return fmt.Errorf("expanding %s: %w", quoteShort(word), inner)
}

// checkEnvSize fails when env has grown past MaxEnvBytes; what names the cause.
func checkEnvSize(env *Env, what string) error {
	if n := env.Bytes(); n > MaxEnvBytes {
		return fmt.Errorf("%s: the step environment would be %s, more than the %s limit (base image Env, ENV and ARG values together)", what, sizeName(n), sizeName(MaxEnvBytes))
	}
	return nil
}

// sizeName spells a byte count for messages: "1 MiB (1048576 bytes)".
func sizeName(n int) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB (%d bytes)", n>>20, n)
	}
	return fmt.Sprintf("%.1f MiB (%d bytes)", float64(n)/(1<<20), n)
}

// quoteShort quotes s for a message, eliding the middle of a long one.
func quoteShort(s string) string {
	const keep = 24
	if len(s) <= 2*keep {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q…%q", s[:keep], s[len(s)-keep:])
}
