package plan

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hush-build/hush/internal/dockerfile"
)

// Options are the inputs of a plan that do not come from the Dockerfile.
type Options struct {
	// BuildArgs are --build-arg values.
	BuildArgs map[string]string
	// Target is the --target stage name; empty means the last stage.
	Target string
	// Platform is the target platform (--platform; zero: the host's), BuildPlatform the
	// one the build runs on (zero: the host's), both normalized.
	Platform, BuildPlatform ocispecs.Platform
	// Replaced names the stages (lowercase) a named build context stands for: their
	// instructions are not planned and their dependencies not needed (--build-context).
	Replaced map[string]bool
}

// Plan is the stage graph of one build. It is not modified after New (but for the
// consumed-build-arg record, under mu) and is safe for concurrent use by several States.
type Plan struct {
	File      *dockerfile.File
	Stages    []*Stage
	Target    *Stage
	BuildArgs map[string]string
	// Platform is the target platform, BuildPlatform the build's (TARGETPLATFORM and
	// BUILDPLATFORM); a stage's own is Stage.Platform.
	Platform, BuildPlatform ocispecs.Platform
	// meta holds the global ARG values, visible to FROM and inherited by ARG in a stage.
	meta *Env
	lex  *shell.Lex
	used map[string]bool
	mu   sync.Mutex
}

// Stage is one FROM block.
type Stage struct {
	Index     int
	Name      string
	Base      string // image reference ("scratch" for none) when BaseStage is nil
	BaseStage *Stage
	Commands  []instructions.Command
	// Deps are the stages this one reads: its base, COPY --from and RUN --mount from.
	Deps   []*Stage
	Needed bool
	Line   int
	// Platform is the stage's: FROM --platform, expanded, or the target platform.
	Platform ocispecs.Platform
	// Replaced says a named build context stands for the stage (Options.Replaced).
	Replaced bool
}

// String names the stage as progress output does.
func (s *Stage) String() string {
	if s.Name != "" {
		return s.Name
	}
	return "stage-" + strconv.Itoa(s.Index)
}

// proxyArgs are predefined build args usable without ARG and kept out of history.
var proxyArgs = []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
	"FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"}

func isProxyArg(k string) bool {
	for _, p := range proxyArgs {
		if p == k {
			return true
		}
	}
	return false
}

// New builds the stage graph and marks the stages the target needs.
func New(f *dockerfile.File, opts Options) (*Plan, error) {
	if opts.BuildPlatform.OS == "" {
		opts.BuildPlatform = HostPlatform()
	}
	if opts.Platform.OS == "" {
		opts.Platform = opts.BuildPlatform
	}
	p := &Plan{File: f, BuildArgs: opts.BuildArgs, Platform: opts.Platform, BuildPlatform: opts.BuildPlatform,
		meta: &Env{}, lex: shell.NewLex(f.EscapeToken), used: map[string]bool{}}
	if p.BuildArgs == nil {
		p.BuildArgs = map[string]string{}
	}
	for _, kv := range platformArgs(opts.BuildPlatform, opts.Platform, opts.Target) {
		v := kv[1]
		if ov, ok := p.BuildArgs[kv[0]]; ok {
			v = ov
			p.used[kv[0]] = true
		}
		p.meta.Set(kv[0], v)
	}
	for _, a := range f.MetaArgs {
		for _, kv := range a.Args {
			if v, ok := p.BuildArgs[kv.Key]; ok {
				p.meta.Set(kv.Key, v)
				p.used[kv.Key] = true
				continue
			}
			if kv.Value != nil {
				v, err := ExpandWord(p.lex, *kv.Value, p.meta)
				if err != nil {
					return nil, p.errAt(&a, fmt.Errorf("ARG %s: %w", kv.Key, err))
				}
				p.meta.Set(kv.Key, v)
			} else if _, ok := p.meta.Get(kv.Key); !ok {
				p.meta.Set(kv.Key, "")
			}
			if err := checkEnvSize(p.meta, "ARG "+kv.Key); err != nil {
				return nil, p.errAt(&a, err)
			}
		}
	}
	for i := range f.Stages {
		src := &f.Stages[i]
		st := &Stage{Index: i, Name: strings.ToLower(src.Name), Commands: src.Commands, Platform: p.Platform}
		if len(src.Location) > 0 {
			st.Line = src.Location[0].Start.Line
		}
		if st.Name != "" && opts.Replaced[st.Name] {
			st.Replaced, st.Commands = true, nil
			p.Stages = append(p.Stages, st)
			continue
		}
		base, err := ExpandWord(p.lex, src.BaseName, p.meta)
		if err != nil {
			return nil, &dockerfile.SyntaxError{File: f.Name, Line: st.Line, Err: fmt.Errorf("expanding FROM %s: %w", quoteShort(src.BaseName), err)}
		}
		if base == "" {
			return nil, &dockerfile.SyntaxError{File: f.Name, Line: st.Line, Err: fmt.Errorf("base name (%s) should not be blank", src.BaseName)}
		}
		if st.Platform, err = p.stagePlatform(src); err != nil {
			return nil, &dockerfile.SyntaxError{File: f.Name, Line: st.Line, Err: err}
		}
		if b := p.stageByName(strings.ToLower(base), i); b != nil {
			st.BaseStage = b
			st.Deps = append(st.Deps, b)
		} else {
			st.Base = base
		}
		p.Stages = append(p.Stages, st)
	}
	for _, st := range p.Stages {
		if err := p.addDeps(st); err != nil {
			return nil, err
		}
	}
	if err := p.pickTarget(opts.Target); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Plan) errAt(c instructions.Command, err error) error {
	return &dockerfile.SyntaxError{File: p.File.Name, Line: dockerfile.Line(c), Err: err}
}

// stageByName finds a stage named name defined before index before.
func (p *Plan) stageByName(name string, before int) *Stage {
	for _, s := range p.Stages {
		if s.Index < before && s.Name != "" && s.Name == name {
			return s
		}
	}
	return nil
}

// ResolveFrom interprets a --from value seen in stage cur: a stage (by name or index) or
// else an image reference.
func (p *Plan) ResolveFrom(cur *Stage, from string) (*Stage, string) {
	name := strings.ToLower(from)
	if s := p.stageByName(name, cur.Index); s != nil {
		return s, ""
	}
	if n, err := strconv.Atoi(from); err == nil && n >= 0 && n < cur.Index {
		return p.Stages[n], ""
	}
	return nil, from
}

func (p *Plan) addDeps(st *Stage) error {
	add := func(from string) {
		if from == "" {
			return
		}
		if v, err := ExpandWord(p.lex, from, p.meta); err == nil {
			from = v
		}
		if s, _ := p.ResolveFrom(st, from); s != nil {
			for _, d := range st.Deps {
				if d == s {
					return
				}
			}
			st.Deps = append(st.Deps, s)
		}
	}
	for _, c := range st.Commands {
		switch c := c.(type) {
		case *instructions.CopyCommand:
			add(c.From)
		case *instructions.RunCommand:
			for _, m := range instructions.GetMounts(c) {
				add(m.From)
			}
		}
	}
	return nil
}

func (p *Plan) pickTarget(target string) error {
	if target == "" {
		p.Target = p.Stages[len(p.Stages)-1]
	} else {
		for _, s := range p.Stages {
			if s.Name == strings.ToLower(target) {
				p.Target = s
			}
		}
		if p.Target == nil {
			var names []string
			for _, s := range p.Stages {
				if s.Name != "" {
					names = append(names, s.Name)
				}
			}
			return fmt.Errorf("target stage %q could not be found (stages: %s)", target, strings.Join(names, ", "))
		}
	}
	var mark func(*Stage)
	mark = func(s *Stage) {
		if s.Needed {
			return
		}
		s.Needed = true
		for _, d := range s.Deps {
			mark(d)
		}
	}
	mark(p.Target)
	return nil
}

// Needed returns the stages the target needs, in source order.
func (p *Plan) Needed() []*Stage {
	var out []*Stage
	for _, s := range p.Stages {
		if s.Needed {
			out = append(out, s)
		}
	}
	return out
}

// UnusedBuildArgs lists --build-arg keys no needed stage consumed (call after all
// needed stages have been applied).
func (p *Plan) UnusedBuildArgs() []string {
	var out []string
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.BuildArgs {
		if !p.used[k] && !isProxyArg(k) {
			out = append(out, k)
		}
	}
	return out
}

func (p *Plan) markUsed(key string) {
	p.mu.Lock()
	p.used[key] = true
	p.mu.Unlock()
}
