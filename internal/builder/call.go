package builder

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/hush-build/hush/internal/dockerfile"
	"github.com/hush-build/hush/internal/lint"
	"github.com/hush-build/hush/internal/plan"
)

// Evaluation is what buildx's --call methods ask of a build without running it: its
// targets, the outline of the target (build args, secrets, SSH agents it uses) and its
// build checks.
type Evaluation struct {
	File   string // the Dockerfile's name
	Source []byte // its text, for showing a check's lines
	// Targets are the stages, in order; the last is the default.
	Targets []Target
	Outline Outline
	// Checks are BuildKit's build checks and hush's lint findings, by line.
	Checks []Check
}

// Target is one stage, as --call targets lists it.
type Target struct {
	Name, Description, Base, Platform string
	Default                           bool
	Line                              int
}

// Outline is the target's inputs, as --call outline lists them.
type Outline struct {
	Name, Description string
	Args              []OutlineArg
	Secrets, SSH      []OutlineMount
}

// OutlineArg is a build arg the target uses; OutlineMount a secret or SSH agent it mounts.
type (
	OutlineArg struct {
		Name, Value, Description string
		Line                     int
	}
	OutlineMount struct {
		Name     string
		Required bool
		Line     int
	}
)

// Check is one build check finding.
type Check struct {
	Rule, Description, URL, Message string
	Line, EndLine                   int
}

// Evaluate opens the request's inputs, plans the target and returns what --call methods
// print; no step runs and nothing is published.
func (b *Builder) Evaluate(ctx context.Context, req Request) (*Evaluation, error) {
	s, err := b.newSession()
	if err != nil {
		return nil, err
	}
	defer s.close()
	in, _, closeAgents, err := s.open(ctx, &req)
	if err != nil {
		return nil, err
	}
	defer closeAgents()
	df := in.dockerfile
	opts := plan.Options{BuildArgs: req.BuildArgs, Target: req.Target}
	if len(req.Platforms) > 0 {
		opts.Platform = req.Platforms[0]
	}
	p, err := plan.New(df, opts)
	if err != nil {
		return nil, err
	}
	ev := &Evaluation{File: df.Name, Source: df.Source, Targets: targets(df), Outline: outline(df, p, req.BuildArgs)}
	for _, w := range df.Warnings {
		ev.Checks = append(ev.Checks, Check{Rule: w.Rule, Description: w.Description, URL: w.URL, Message: w.Message, Line: w.Line, EndLine: w.EndLine})
	}
	for _, f := range lint.Check(df, lint.Options{Secrets: req.Secrets.Values(), BuildArgs: req.BuildArgs, Context: in.context}) {
		ev.Checks = append(ev.Checks, Check{Rule: f.Rule, Description: "hush lint: " + string(f.Severity), Message: f.Message, Line: f.Line, EndLine: f.Line})
	}
	slices.SortStableFunc(ev.Checks, func(a, b Check) int { return a.Line - b.Line })
	return ev, nil
}

// targets lists the stages as BuildKit's frontend does.
func targets(df *dockerfile.File) []Target {
	var out []Target
	for i, st := range df.Stages {
		t := Target{Name: st.Name, Description: st.DocComment, Base: st.BaseName, Platform: st.Platform,
			Default: i == len(df.Stages)-1}
		if len(st.Location) > 0 {
			t.Line = st.Location[0].Start.Line
		}
		out = append(out, t)
	}
	return out
}

// StageNames are the names of the named stages of the Dockerfile at path, in order (for
// shell completion of --target).
func StageNames(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	df, err := dockerfile.Parse(filepath.Base(path), f)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, st := range df.Stages {
		if st.Name != "" {
			out = append(out, st.Name)
		}
	}
	return out, nil
}

// argRef finds the variables a FROM line names.
var argRef = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)

// outline is the target's inputs: the ARGs its stages declare (and the global ones its
// FROM lines use), the secrets and SSH agents its RUN steps mount, each at its first line.
func outline(df *dockerfile.File, p *plan.Plan, buildArgs map[string]string) Outline {
	tgt := df.Stages[p.Target.Index]
	o := Outline{Name: tgt.Name, Description: tgt.DocComment}
	seen := map[string]bool{}
	addArg := func(kv instructions.KeyValuePairOptional, line int) {
		if seen["arg:"+kv.Key] {
			return
		}
		seen["arg:"+kv.Key] = true
		a := OutlineArg{Name: kv.Key, Description: kv.DocComment, Line: line}
		if v, ok := buildArgs[kv.Key]; ok {
			a.Value = v
		} else if kv.Value != nil {
			a.Value = *kv.Value
		}
		o.Args = append(o.Args, a)
	}
	used := map[string]bool{}
	for _, st := range p.Needed() {
		src := df.Stages[st.Index]
		for _, m := range argRef.FindAllStringSubmatch(src.BaseName+" "+src.Platform, -1) {
			used[m[1]] = true
		}
		for _, c := range st.Commands {
			o.addCommand(c, addArg, used, seen)
		}
	}
	for _, a := range df.MetaArgs {
		for _, kv := range a.Args {
			if used[kv.Key] {
				addArg(kv, dockerfile.Line(&a))
			}
		}
	}
	slices.SortStableFunc(o.Args, func(a, b OutlineArg) int { return a.Line - b.Line })
	o.addMounts(p)
	return o
}

// addCommand adds what one instruction of a needed stage contributes to the outline.
func (o *Outline) addCommand(c instructions.Command, addArg func(instructions.KeyValuePairOptional, int), used, seen map[string]bool) {
	switch c := c.(type) {
	case *instructions.ArgCommand:
		for _, kv := range c.Args {
			if kv.Value == nil {
				used[kv.Key] = true // inherits the global ARG
			}
			addArg(kv, dockerfile.Line(c))
		}
	}
}

// addMounts adds the secrets and SSH agents the target's RUN steps mount (as the plan
// expands them).
func (o *Outline) addMounts(p *plan.Plan) {
	seen := map[string]bool{}
	_ = neededSteps(p, func(step *plan.Step) {
		for _, m := range step.Mounts {
			switch m.Type {
			case instructions.MountTypeSecret:
				if id := secretID(m); !seen["secret:"+id] {
					seen["secret:"+id] = true
					o.Secrets = append(o.Secrets, OutlineMount{Name: id, Required: m.Required, Line: step.Line})
				}
			case instructions.MountTypeSSH:
				if id := sshID(m); !seen["ssh:"+id] {
					seen["ssh:"+id] = true
					o.SSH = append(o.SSH, OutlineMount{Name: id, Required: m.Required, Line: step.Line})
				}
			}
		}
	})
}
