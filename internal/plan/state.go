package plan

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/hush-build/hush/internal/dockerfile"
)

// DefaultPath is the PATH BuildKit gives images that have none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// State is a stage's image config and build-arg scope as its instructions apply.
type State struct {
	Config v1.Config
	// Author is the image's author (MAINTAINER), "" to keep the base's.
	Author string
	plan   *Plan
	stage  *Stage
	// run is the environment of the stage's processes and of expansion: the config Env
	// plus ARG values, in BuildKit's order.
	run    *Env
	args   []instructions.KeyValuePairOptional
	cmdSet bool
	lex    *shell.Lex
}

// NewState starts stage st from a copy of its base image's config (base is not
// modified). A base whose Env is past MaxEnvBytes is an error at the stage's FROM line.
func (p *Plan) NewState(st *Stage, base v1.Config) (*State, error) {
	cfg := *base.DeepCopy()
	hasPath := false
	for _, kv := range cfg.Env {
		if strings.HasPrefix(kv, "PATH=") {
			hasPath = true
		}
	}
	if !hasPath {
		cfg.Env = append(cfg.Env, "PATH="+DefaultPath)
	}
	cfg.OnBuild = nil
	s := &State{Config: cfg, plan: p, stage: st, run: NewEnv(cfg.Env), lex: shell.NewLex(p.File.EscapeToken)}
	from := st.Base
	if st.BaseStage != nil {
		from = "stage " + st.BaseStage.String()
	}
	if err := checkEnvSize(s.run, "base image "+from); err != nil {
		return nil, &dockerfile.SyntaxError{File: p.File.Name, Line: st.Line, Err: err}
	}
	return s, nil
}

// Child starts stage st, whose base is the stage s applied, from s as BuildKit does: its
// config (without ONBUILD triggers) and its processes' environment and build args, so a
// parent stage's ARG values stay visible to RUN and in its history line. s is not modified.
func (s *State) Child(st *Stage) *State {
	c := &State{Config: *s.Config.DeepCopy(), Author: s.Author, plan: s.plan, stage: st,
		run: s.run.Clone(), args: slices.Clone(s.args), lex: s.lex}
	c.Config.OnBuild = nil
	return c
}

// OnBuild parses the ONBUILD triggers of a base image into commands to run first.
func OnBuild(triggers []string) ([]instructions.Command, error) {
	var out []instructions.Command
	for _, t := range triggers {
		res, err := parser.Parse(strings.NewReader(t))
		if err != nil {
			return nil, fmt.Errorf("parsing ONBUILD trigger %q: %w", t, err)
		}
		for _, n := range res.AST.Children {
			c, err := instructions.ParseCommand(n)
			if err != nil {
				return nil, fmt.Errorf("parsing ONBUILD trigger %q: %w", t, err)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

func (s *State) fail(c instructions.Command, err error) error {
	return &dockerfile.SyntaxError{File: s.plan.File.Name, Line: dockerfile.Line(c), Err: err}
}

// Apply expands cmd against the state, applies its effect on the image config, and
// returns the step that executes it. Expanded values go into the Step and the State only:
// cmd stays as parsed, so a plan can be applied again by another State.
func (s *State) Apply(cmd instructions.Command) (*Step, error) {
	st := &Step{Kind: Meta, Line: dockerfile.Line(cmd), Name: displayName(cmd),
		User: s.Config.User, Workdir: s.workdir()}
	if err := s.apply(cmd, st); err != nil {
		return nil, s.fail(cmd, err)
	}
	switch cmd.(type) {
	case *instructions.RunCommand, *instructions.CopyCommand, *instructions.AddCommand, *instructions.WorkdirCommand:
		// These leave the stage's variables as they were.
		st.Name = s.stepName(cmd, st.Mounts)
	}
	return st, nil
}

func (s *State) apply(cmd instructions.Command, st *Step) error {
	switch c := cmd.(type) {
	case *instructions.EnvCommand:
		return s.applyEnv(c, st)
	case *instructions.ArgCommand:
		return s.applyArg(c, st)
	case *instructions.RunCommand:
		return s.applyRun(c, st)
	case *instructions.CopyCommand:
		return s.applyCopy(st, &CopySpec{Sources: c.SourcePaths, Contents: c.SourceContents,
			Dest: c.DestPath, From: c.From, Chown: c.Chown, Chmod: c.Chmod, Link: c.Link,
			Parents: c.Parents, Excludes: slices.Clone(c.ExcludePatterns)})
	case *instructions.AddCommand:
		cs := &CopySpec{Add: true, Sources: c.SourcePaths, Contents: c.SourceContents,
			Dest: c.DestPath, Chown: c.Chown, Chmod: c.Chmod, Link: c.Link,
			Excludes: slices.Clone(c.ExcludePatterns), Checksum: c.Checksum, Unpack: c.Unpack}
		if c.KeepGitDir != nil {
			cs.KeepGitDir = *c.KeepGitDir
		}
		return s.applyCopy(st, cs)
	case *instructions.WorkdirCommand:
		return s.applyWorkdir(c, st)
	case *instructions.LabelCommand:
		return s.applyLabel(c, st)
	case *instructions.ExposeCommand:
		return s.applyExpose(c, st)
	case *instructions.UserCommand:
		user, err := s.expand(c.User)
		if err != nil {
			return err
		}
		s.Config.User = user
		st.CreatedBy = "USER " + user
		return nil
	case *instructions.VolumeCommand:
		return s.applyVolume(c, st)
	case *instructions.StopSignalCommand:
		return s.applyStopSignal(c, st)
	}
	return s.applyConfig(cmd, st)
}

// applyConfig applies the instructions that expand nothing.
func (s *State) applyConfig(cmd instructions.Command, st *Step) error {
	switch c := cmd.(type) {
	case *instructions.MaintainerCommand:
		s.Author = c.Maintainer
		st.CreatedBy = "MAINTAINER " + c.Maintainer
	case *instructions.CmdCommand:
		args := s.withShell(c.ShellDependantCmdLine)
		s.Config.Cmd, s.cmdSet = args, true
		s.Config.ArgsEscaped = true
		st.CreatedBy = fmt.Sprintf("CMD %q", args)
	case *instructions.EntrypointCommand:
		args := s.withShell(c.ShellDependantCmdLine)
		s.Config.Entrypoint = args
		if !s.cmdSet {
			s.Config.Cmd = nil
		}
		st.CreatedBy = fmt.Sprintf("ENTRYPOINT %q", args)
	case *instructions.ShellCommand:
		s.Config.Shell = slices.Clone(c.Shell)
		st.CreatedBy = fmt.Sprintf("SHELL %v", c.Shell)
	case *instructions.HealthCheckCommand:
		h := c.Health
		s.Config.Healthcheck = &v1.HealthConfig{Test: slices.Clone(h.Test), Interval: h.Interval,
			Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
		st.CreatedBy = fmt.Sprintf("HEALTHCHECK %+v", *h)
	case *instructions.OnbuildCommand:
		// No history entry, as in BuildKit.
		s.Config.OnBuild = append(s.Config.OnBuild, c.Expression)
	default:
		return fmt.Errorf("unsupported instruction %s", strings.ToUpper(cmd.Name()))
	}
	return nil
}

// applyEnv expands every pair before setting any, as BuildKit does.
func (s *State) applyEnv(c *instructions.EnvCommand, st *Step) error {
	env, err := s.expandPairs("ENV", c.Env)
	if err != nil {
		return err
	}
	msg := "ENV"
	for _, kv := range env {
		msg += " " + kv.String()
		s.run.Set(kv.Key, kv.Value)
		if err := checkEnvSize(s.run, "ENV "+kv.Key); err != nil {
			return err
		}
		s.Config.Env = setEnvList(s.Config.Env, kv.Key, kv.Value)
	}
	st.CreatedBy = msg
	return nil
}

func (s *State) applyLabel(c *instructions.LabelCommand, st *Step) error {
	labels, err := s.expandPairs("LABEL", c.Labels)
	if err != nil {
		return err
	}
	msg := "LABEL"
	if s.Config.Labels == nil {
		s.Config.Labels = map[string]string{}
	}
	for _, kv := range labels {
		s.Config.Labels[kv.Key] = kv.Value
		msg += " " + kv.String()
	}
	st.CreatedBy = msg
	return nil
}

func (s *State) applyWorkdir(c *instructions.WorkdirCommand, st *Step) error {
	wd, err := s.expand(c.Path)
	if err != nil {
		return err
	}
	// As BuildKit: an absolute path is kept as written (in the config and the history),
	// a relative one is joined to the current one, and any path but "/" itself makes a
	// layer.
	if wd == "" {
		wd = s.workdir()
	}
	if !path.IsAbs(wd) {
		wd = path.Join(s.workdir(), wd)
	}
	s.Config.WorkingDir = wd
	st.Workdir, st.CreatedBy = wd, "WORKDIR "+wd
	if wd != "/" {
		st.Kind, st.Dir = Mkdir, path.Clean(wd)
	}
	return nil
}

func (s *State) applyVolume(c *instructions.VolumeCommand, st *Step) error {
	vols, err := s.expandAll(c.Volumes)
	if err != nil {
		return err
	}
	if s.Config.Volumes == nil {
		s.Config.Volumes = map[string]struct{}{}
	}
	for _, v := range vols {
		if v == "" {
			return errors.New("VOLUME specified can not be an empty string")
		}
		s.Config.Volumes[v] = struct{}{}
	}
	st.CreatedBy = fmt.Sprintf("VOLUME %v", vols)
	return nil
}

func (s *State) applyStopSignal(c *instructions.StopSignalCommand, st *Step) error {
	sig, err := s.expand(c.Signal)
	if err != nil {
		return err
	}
	if !validSignal(sig) {
		return fmt.Errorf("invalid signal: %s", sig)
	}
	s.Config.StopSignal = sig
	st.CreatedBy = "STOPSIGNAL " + sig
	return nil
}

func (s *State) workdir() string {
	if s.Config.WorkingDir == "" {
		return "/"
	}
	return s.Config.WorkingDir
}

func (s *State) withShell(c instructions.ShellDependantCmdLine) []string {
	if !c.PrependShell {
		return slices.Clone(c.CmdLine)
	}
	sh := s.Config.Shell
	if len(sh) == 0 {
		sh = []string{"/bin/sh", "-c"}
	}
	return append(slices.Clone(sh), strings.Join(c.CmdLine, " "))
}

func displayName(c instructions.Command) string {
	if st, ok := c.(fmt.Stringer); ok {
		s := st.String()
		if i := strings.IndexByte(s, ' '); i > 0 {
			return strings.ToUpper(s[:i]) + s[i:]
		}
		return strings.ToUpper(s)
	}
	return strings.ToUpper(c.Name())
}

func validSignal(s string) bool {
	s = strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if s == "" {
		return false
	}
	if s[0] >= '0' && s[0] <= '9' {
		for _, r := range s {
			if r < '0' || r > '9' {
				return false
			}
		}
		return true
	}
	switch s {
	case "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV",
		"USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN",
		"TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS":
		return true
	}
	return strings.HasPrefix(s, "RTMIN") || strings.HasPrefix(s, "RTMAX")
}
