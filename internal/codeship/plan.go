package codeship

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Plan is what `hush steps --dry-run` prints: docs/spec/steps-plan.md.
type Plan struct {
	ServicesFile string                  `json:"services_file"`
	StepsFile    string                  `json:"steps_file"`
	Tag          string                  `json:"tag"`
	Push         bool                    `json:"push"`
	Services     map[string]*PlanService `json:"services"`
	Steps        []*PlanStep             `json:"steps"`
	Warnings     []string                `json:"warnings"`
	order        []string
}

// PlanService is one service of a plan.
type PlanService struct {
	Image string     `json:"image"`
	Build *PlanBuild `json:"build"`
	// Needed: a step that runs for this tag uses it (directly, through links, depends_on,
	// volumes_from or as a dockercfg service).
	Needed bool `json:"needed"`
}

// PlanBuild is where a service's image is built from, relative to the pipeline's directory.
type PlanBuild struct {
	Context    string `json:"context"`
	Dockerfile string `json:"dockerfile"`
}

// PlanStep is one node of a plan's step tree.
type PlanStep struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Service   string `json:"service"`
	Command   string `json:"command"`
	ImageName string `json:"image_name"`
	ImageTag  string `json:"image_tag"`
	Registry  string `json:"registry"`
	// Skip: excluded by tag/exclude (its own or a group's) for this build tag.
	Skip       bool        `json:"skip"`
	SkipReason string      `json:"skip_reason"`
	Steps      []*PlanStep `json:"steps"`
}

// Plan is the pipeline's plan for a build tag and variables.
func (p *Pipeline) Plan(tag string, push bool, vars Vars) (*Plan, error) {
	pl := &Plan{ServicesFile: p.Rel(p.ServicesFile), StepsFile: p.Rel(p.StepsFile), Tag: tag, Push: push,
		Services: map[string]*PlanService{}, Warnings: []string{}, order: p.Services.Names()}
	needed := map[string]bool{}
	for _, n := range p.Needed(tag, push) {
		needed[n] = true
	}
	for _, n := range pl.order {
		svc, _ := p.Services.Get(n)
		ps := &PlanService{Image: svc.Image, Needed: needed[n]}
		if svc.Build != nil {
			ctx, df := p.BuildPaths(svc)
			ps.Build = &PlanBuild{Context: p.Rel(ctx), Dockerfile: p.Rel(df)}
		}
		pl.Services[n] = ps
	}
	var err error
	var empty []Warning
	if pl.Steps, err = planSteps(p.Steps, tag, "", vars, &empty); err != nil {
		return nil, err
	}
	for _, w := range append(append([]Warning(nil), p.Warnings...), empty...) {
		pl.Warnings = append(pl.Warnings, w.String())
	}
	return pl, nil
}

// BuildPaths are a built service's context dir and Dockerfile, as absolute paths.
func (p *Pipeline) BuildPaths(svc *Service) (context, dockerfile string) {
	context = svc.Build.Context
	if !filepath.IsAbs(context) {
		context = filepath.Join(p.Services.Dir, context)
	}
	dockerfile = svc.Build.Dockerfile
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	if !filepath.IsAbs(dockerfile) {
		dockerfile = filepath.Join(context, dockerfile)
	}
	return context, dockerfile
}

func planSteps(steps []*Step, tag, groupSkip string, vars Vars, empty *[]Warning) ([]*PlanStep, error) {
	out := []*PlanStep{}
	for _, st := range steps {
		ps := &PlanStep{Name: st.Name, Type: st.Type, Service: st.Service, Command: st.Command, Registry: st.Registry}
		ps.SkipReason = groupSkip
		if ps.SkipReason == "" {
			ps.SkipReason = st.Skipped(tag)
		}
		ps.Skip = ps.SkipReason != ""
		if st.Type == TypePush {
			ps.ImageName = st.ImageName
			var err error
			if ps.ImageTag, err = st.ImageTagFor(vars); err != nil {
				var e *Error
				if !errors.As(err, &e) || !e.empty {
					return nil, err
				}
				*empty = append(*empty, Warning{File: e.File, Line: e.Line, Msg: e.Msg + "; pushing it would fail"})
			}
		}
		inner := groupSkip
		if ps.Skip && inner == "" {
			inner = "group"
		}
		var err error
		if ps.Steps, err = planSteps(st.Steps, tag, inner, vars, empty); err != nil {
			return nil, err
		}
		out = append(out, ps)
	}
	return out, nil
}

// WriteJSON writes the plan as one JSON object.
func (pl *Plan) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(pl)
}

// WriteText writes the plan for people.
func (pl *Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "services (%s):\n", pl.ServicesFile)
	for _, n := range pl.order {
		s := pl.Services[n]
		use := ""
		if !s.Needed {
			use = "  (not used for this tag)"
		}
		if s.Build != nil {
			fmt.Fprintf(&b, "  %-20s build %s (context %s) as %s%s\n", n, s.Build.Dockerfile, s.Build.Context, s.Image, use)
		} else {
			fmt.Fprintf(&b, "  %-20s image %s%s\n", n, s.Image, use)
		}
	}
	pushes := "push steps run"
	if !pl.Push {
		pushes = "push steps skipped (no --push)"
	}
	fmt.Fprintf(&b, "steps (%s), build tag %q, %s:\n", pl.StepsFile, pl.Tag, pushes)
	writeSteps(&b, pl.Steps, 1, pl.Push)
	for _, wn := range pl.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", wn)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeSteps(b *strings.Builder, steps []*PlanStep, depth int, push bool) {
	for _, s := range steps {
		ind := strings.Repeat("  ", depth)
		var what string
		switch s.Type {
		case TypeRun:
			what = fmt.Sprintf("run   %q on %s: %s", s.Name, s.Service, s.Command)
		case TypePush:
			what = fmt.Sprintf("push  %q %s as %s:%s", s.Name, s.Service, s.ImageName, s.ImageTag)
			if s.Registry != "" {
				what += " (registry " + s.Registry + ")"
			}
		default:
			what = fmt.Sprintf("%s %q", s.Type, s.Name)
		}
		switch {
		case s.Skip && s.SkipReason != "group":
			what += "  [skipped: " + s.SkipReason + "]"
		case !s.Skip && s.Type == TypePush && !push:
			what += "  [skipped: no --push]"
		}
		fmt.Fprintf(b, "%s%s\n", ind, what)
		writeSteps(b, s.Steps, depth+1, push)
	}
}
