package plan

import (
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// stepName is the name BuildKit gives a step's vertex: the instruction with the stage's
// variables (ENV and ARG values) expanded and its keyword upper-cased. A RUN keeps its
// quotes, escapes and unset variables as written, and shows a secret mounted as an
// environment variable as "****"; a name that cannot be expanded within MaxValueBytes
// is shown as written.
func (s *State) stepName(cmd instructions.Command, mounts []*instructions.Mount) string {
	str := displayName(cmd)
	if st, ok := cmd.(fmt.Stringer); ok {
		str = st.String()
	}
	lex := shell.NewLex(s.plan.File.EscapeToken)
	var env shell.EnvGetter = s.run
	if _, ok := cmd.(*instructions.RunCommand); ok {
		lex.RawQuotes, lex.RawEscapes, lex.SkipUnsetEnv = true, true, true
		env = maskSecretEnv(mounts, s.run)
	}
	w, err := ExpandWord(lex, str, env)
	if err != nil {
		w = str
	}
	return uppercaseCmd(w)
}

// uppercaseCmd upper-cases the instruction keyword, as BuildKit does.
func uppercaseCmd(s string) string {
	kw, rest, ok := strings.Cut(s, " ")
	if !ok {
		return strings.ToUpper(s)
	}
	return strings.ToUpper(kw) + " " + rest
}

// maskSecretEnv is env with each RUN --mount=type=secret,env=NAME variable as "****"
// (BuildKit's withSecretEnvMask).
func maskSecretEnv(mounts []*instructions.Mount, env *Env) shell.EnvGetter {
	var masked *Env
	for _, m := range mounts {
		if m.Type == instructions.MountTypeSecret && m.Env != nil {
			if masked == nil {
				masked = env.Clone()
			}
			masked.Set(*m.Env, "****")
		}
	}
	if masked == nil {
		return env
	}
	return masked
}
