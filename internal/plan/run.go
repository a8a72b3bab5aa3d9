package plan

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	mode "github.com/tonistiigi/dchapes-mode"
)

// applyArg declares build args in the stage, BuildKit's way: a --build-arg value wins,
// then the default, then an inherited global ARG (kept out of history).
func (s *State) applyArg(c *instructions.ArgCommand, st *Step) error {
	var commit []string
	for _, arg := range c.Args {
		key, err := s.expand(arg.Key)
		if err != nil {
			return fmt.Errorf("ARG: %w", err)
		}
		arg.Key = key
		v, hasValue := s.plan.BuildArgs[key]
		hasDefault := arg.Value != nil
		if !hasDefault && !hasValue {
			if g, ok := s.plan.meta.Get(key); ok {
				arg.Value = &g
			}
		}
		if hasValue {
			arg.Value = &v
			s.plan.markUsed(key)
		} else if hasDefault {
			d, err := s.expand(*arg.Value)
			if err != nil {
				return fmt.Errorf("ARG %s: %w", key, err)
			}
			arg.Value = &d
		}
		if arg.Value != nil {
			s.run.Set(key, *arg.Value)
			if err := checkEnvSize(s.run, "ARG "+key); err != nil {
				return err
			}
		}
		s.args = append(s.args, arg)
		str := key
		if arg.Value != nil {
			str += "=" + *arg.Value
		}
		commit = append(commit, str)
	}
	st.CreatedBy = "ARG " + strings.Join(commit, " ")
	return nil
}

// applyRun resolves the argv, environment and mounts of a RUN.
func (s *State) applyRun(c *instructions.RunCommand, st *Step) error {
	mounts, err := s.expandMounts(c)
	if err != nil {
		return err
	}
	st.Kind = Run
	args := slices.Clone(c.CmdLine)
	if len(c.Files) > 0 {
		if len(args) != 1 || !c.PrependShell {
			return fmt.Errorf("parsing produced an invalid run command: %v", args)
		}
		if hd := parser.MustParseHeredoc(args[0]); hd != nil {
			f := c.Files[0]
			data := f.Data
			if f.Chomp {
				data = parser.ChompHeredocContent(data)
			}
			if strings.HasPrefix(data, "#!") {
				f.Data = data
				st.Script = &f
				args = []string{st.ScriptPath()}
			} else {
				args = []string{data}
			}
		} else {
			var b strings.Builder
			b.WriteString(args[0])
			for _, f := range c.Files {
				b.WriteString("\n" + f.Data + f.Name)
			}
			args = []string{b.String()}
		}
	}
	if c.PrependShell {
		// A shebang heredoc too: BuildKit runs its file through the shell.
		args = s.withShell(instructions.ShellDependantCmdLine{CmdLine: args, PrependShell: true})
	}
	st.Args = args
	st.Env = s.run.List()
	for _, k := range proxyArgs {
		if v, ok := s.plan.BuildArgs[k]; ok {
			if _, declared := s.run.Get(k); !declared {
				st.Env = append(st.Env, k+"="+v)
			}
		}
	}
	if n := envBytes(st.Env); n > MaxEnvBytes {
		return fmt.Errorf("RUN: the step environment is %s, more than the %s limit", sizeName(n), sizeName(MaxEnvBytes))
	}
	st.Mounts = mounts
	st.Network = string(instructions.GetNetwork(c))
	st.Security = instructions.GetSecurity(c)
	st.CreatedBy = "RUN " + runCommandString(args, s.args, s.run) + " # buildkit"
	return nil
}

// envBytes adds up the sizes of KEY=value strings.
func envBytes(env []string) int {
	n := 0
	for _, kv := range env {
		n += len(kv)
	}
	return n
}

// runCommandString prefixes the command with "|N K=v" for the stage's build args, as
// BuildKit's history does.
func runCommandString(args []string, buildArgs []instructions.KeyValuePairOptional, env *Env) string {
	var kvs []string
	idx := map[string]int{}
	for _, a := range buildArgs {
		v, ok := env.Get(a.Key)
		if !ok {
			v = a.ValueString()
		}
		if i, seen := idx[a.Key]; seen {
			kvs[i] = a.Key + "=" + v
			continue
		}
		idx[a.Key] = len(kvs)
		kvs = append(kvs, a.Key+"="+v)
	}
	if len(kvs) > 0 {
		kvs = append([]string{fmt.Sprintf("|%d", len(kvs))}, kvs...)
	}
	return strings.Join(append(kvs, args...), " ")
}

// applyCopy expands cs, which holds the words of the parsed COPY or ADD as written.
func (s *State) applyCopy(st *Step, cs *CopySpec) error {
	if err := s.expandCopy(cs); err != nil {
		return err
	}
	st.Kind, st.Copy = Copy, cs
	if err := checkChmod(cs.Chmod); err != nil {
		return err
	}
	if cs.Link && chownByName(cs.Chown) {
		return fmt.Errorf("--chown=%s: user and group names can't be resolved when used with --link, use numeric uid[:gid] instead", cs.Chown)
	}
	if cs.From != "" {
		cs.FromStage, _ = s.plan.ResolveFrom(s.stage, cs.From)
		if cs.FromStage == s.stage {
			return fmt.Errorf("circular dependency detected on stage: %s", s.stage)
		}
	}
	msg := "COPY"
	if cs.Add {
		msg = "ADD"
	}
	if cs.Parents {
		msg += " --parents"
	}
	if cs.Chown != "" {
		msg += " --chown=" + cs.Chown
	}
	if cs.Chmod != "" {
		msg += " --chmod=" + cs.Chmod
	}
	for _, src := range cs.Sources {
		msg += " " + src
	}
	for _, c := range cs.Contents {
		msg += " <<" + c.Path
	}
	st.CreatedBy = msg + " " + cs.Dest + " # buildkit"
	return nil
}

func (s *State) applyExpose(c *instructions.ExposeCommand, st *Step) error {
	var ports []string
	for _, p := range c.Ports {
		ps, err := expandWords(s.lex, p, s.run)
		if err != nil {
			return err
		}
		ports = append(ports, ps...)
	}
	var all []string
	for _, p := range ports {
		ps, err := parsePort(p)
		if err != nil {
			return err
		}
		all = append(all, ps...)
	}
	if s.Config.ExposedPorts == nil {
		s.Config.ExposedPorts = map[string]struct{}{}
	}
	for _, p := range all {
		s.Config.ExposedPorts[p] = struct{}{}
	}
	st.CreatedBy = fmt.Sprintf("EXPOSE %v", all)
	return nil
}

// checkChmod accepts what BuildKit's --chmod does: an octal mode up to 07777, or a
// symbolic one (u+x,go=r), with BuildKit's message for a bad number.
func checkChmod(chmod string) error {
	if chmod == "" {
		return nil
	}
	nonOctal := fmt.Errorf("invalid chmod parameter: '%v'. it should be octal string and between 0 and 07777", chmod)
	m, err := strconv.ParseUint(chmod, 8, 32)
	if err == nil {
		if m > 0o7777 {
			return nonOctal
		}
		return nil
	}
	if _, err := mode.Parse(chmod); err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) {
			return nonOctal
		}
		return fmt.Errorf("invalid chmod parameter %q: %w", chmod, err)
	}
	return nil
}

// chownByName reports whether a --chown value names a user or group rather than giving
// numbers (as BuildKit reads it, "root" is a name too): a --link copy lands in an empty
// layer, where no /etc/passwd can resolve one.
func chownByName(chown string) bool {
	if chown == "" {
		return false
	}
	u, g, _ := strings.Cut(chown, ":")
	for _, part := range []string{u, g} {
		if _, err := strconv.ParseUint(part, 10, 32); part != "" && err != nil {
			return true
		}
	}
	return false
}
