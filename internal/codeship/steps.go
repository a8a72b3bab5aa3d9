package codeship

import (
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Step types.
const (
	TypeRun      = "run"
	TypePush     = "push"
	TypeSerial   = "serial"
	TypeParallel = "parallel"
)

// Step is one node of the steps tree, with what its groups handed down already applied.
type Step struct {
	Name string
	Type string
	// File and Line are where the step is written.
	File string
	Line int
	// Service runs the command (run) or is pushed (push).
	Service string
	Command string
	// Tag and Exclude are the filters over the build tag (own or inherited).
	Tag, Exclude Filter
	ImageName    string
	// ImageTag is the image_tag template as written ("" means latest).
	ImageTag string
	Registry string
	// EncryptedDockercfgPath and DockercfgService are the push credentials (own or
	// inherited; a dockercfg path wins over a service, as in Jet).
	EncryptedDockercfgPath string
	DockercfgService       string
	// EncryptedEnvFiles and Volumes add to the service's for this step only;
	// WorkingDir replaces the service's.
	EncryptedEnvFiles []string
	Volumes           []Volume
	WorkingDir        string
	Steps             []*Step
}

// IsGroup reports a serial or parallel group.
func (s *Step) IsGroup() bool { return s.Type == TypeSerial || s.Type == TypeParallel }

// Filter is a tag or exclude value: a plain string matches the whole build tag; a value
// with ^ or $ is a Go regular expression (Codeship's rule).
type Filter struct {
	Text string
	re   *regexp.Regexp
}

// Set reports a filter that was given.
func (f Filter) Set() bool { return f.Text != "" }

// Match reports whether the build tag matches.
func (f Filter) Match(tag string) bool {
	if f.re != nil {
		return f.re.MatchString(tag)
	}
	return f.Text == tag
}

// inherited is what a group hands to its children.
type inherited struct {
	service, registry, dockercfgPath, dockercfgService string
	tag, exclude                                       Filter
}

// stepParser reads a steps file.
type stepParser struct {
	src   source
	names map[string]int
}

// ParseSteps reads a steps file; name is how messages call it.
func ParseSteps(path, name string, warnings *[]Warning) ([]*Step, error) {
	p := &stepParser{src: source{name: name, warnings: warnings}, names: map[string]int{}}
	root, err := p.src.parseFile(path)
	if err != nil {
		return nil, err
	}
	if root == nil {
		return nil, &Error{File: name, Msg: "empty steps file"}
	}
	if root.Kind != yaml.SequenceNode {
		return nil, p.src.errf(root, "want a list of steps, got %s", kindName(root))
	}
	return p.list(root, inherited{}, nil)
}

// list reads a list of steps under what a group hands down; services, when set, is a
// group's services: list the steps run on.
func (p *stepParser) list(n *yaml.Node, in inherited, path []int) ([]*Step, error) {
	var out []*Step
	for i, c := range n.Content {
		st, err := p.step(deref(c), in, append(append([]int(nil), path...), i+1))
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// step reads one step (and its sub-steps).
func (p *stepParser) step(n *yaml.Node, in inherited, path []int) (*Step, error) {
	raw, err := p.fields(n)
	if err != nil {
		return nil, err
	}
	st := &Step{File: p.src.name, Line: n.Line, Name: raw.name, Type: raw.typ, Command: raw.command,
		ImageName: raw.imageName, ImageTag: raw.imageTag, EncryptedEnvFiles: raw.envFiles,
		Volumes: raw.volumes, WorkingDir: raw.workingDir}
	in = raw.apply(in)
	st.Service, st.Registry, st.Tag, st.Exclude = in.service, in.registry, in.tag, in.exclude
	st.EncryptedDockercfgPath, st.DockercfgService = in.dockercfgPath, in.dockercfgService
	if st.EncryptedDockercfgPath != "" {
		st.DockercfgService = "" // Jet: the encrypted dockercfg takes precedence
	}
	if err := p.kind(st, raw, n); err != nil {
		return nil, err
	}
	if st.IsGroup() {
		if raw.steps == nil || len(raw.steps.Content) == 0 {
			return nil, p.src.errf(n, "step %s: a %s group needs steps:", p.label(st, path), st.Type)
		}
		if err := p.children(st, raw, in, path); err != nil {
			return nil, err
		}
	}
	p.name(st, path)
	return st, p.check(st, n, path)
}

// kind settles the step's type: written, or run/push from what it has.
func (p *stepParser) kind(st *Step, raw *rawStep, n *yaml.Node) error {
	switch st.Type {
	case "":
		switch {
		case raw.steps != nil:
			st.Type = TypeSerial
		default:
			st.Type = TypeRun
		}
	case TypeRun, TypePush, TypeSerial, TypeParallel:
	case "manual":
		p.src.warnf(n, "type: manual: hush has no approvals; the group runs as serial")
		st.Type = TypeSerial
	default:
		return p.src.errf(n, "step %q: unknown type %q (want serial, parallel or push; none for a command)", st.Name, st.Type)
	}
	return nil
}

// children reads a group's steps; with services: they run once per service (parallel:
// a serial group per service, side by side; serial: the steps for each service in turn,
// as Codeship's documented equivalents show).
func (p *stepParser) children(st *Step, raw *rawStep, in inherited, path []int) error {
	if len(raw.services) == 0 {
		var err error
		st.Steps, err = p.list(raw.steps, in, path)
		return err
	}
	base := st.Name
	if base == "" {
		base = st.Type + " " + pathString(path)
	}
	for i, svc := range raw.services {
		sub := in
		sub.service = svc
		kids, err := p.list(raw.steps, sub, append(append([]int(nil), path...), i+1))
		if err != nil {
			return err
		}
		if st.Type == TypeParallel {
			g := &Step{Name: fmt.Sprintf("%s (%s)", base, svc), Type: TypeSerial, File: st.File, Line: st.Line,
				Service: svc, Tag: st.Tag, Exclude: st.Exclude, Registry: st.Registry,
				EncryptedDockercfgPath: st.EncryptedDockercfgPath, DockercfgService: st.DockercfgService, Steps: kids}
			st.Steps = append(st.Steps, g)
		} else {
			st.Steps = append(st.Steps, kids...)
		}
	}
	return nil
}

// check validates a leaf step.
func (p *stepParser) check(st *Step, n *yaml.Node, path []int) error {
	switch st.Type {
	case TypeRun:
		if st.Command == "" {
			return p.src.errf(n, "step %s: want command: (or type: serial|parallel|push)", p.label(st, path))
		}
		if st.Service == "" {
			return p.src.errf(n, "step %s: want service: (on the step or its group)", p.label(st, path))
		}
	case TypePush:
		if st.Service == "" || st.ImageName == "" {
			return p.src.errf(n, "step %s: a push step needs service: and image_name:", p.label(st, path))
		}
	}
	return nil
}

// name gives an unnamed step a name, and makes names unique.
func (p *stepParser) name(st *Step, path []int) {
	if st.Name == "" {
		switch st.Type {
		case TypeRun:
			cmd := st.Command
			if len(cmd) > 40 {
				cmd = cmd[:40] + "…"
			}
			st.Name = st.Service + ": " + cmd
		case TypePush:
			st.Name = "push " + st.Service
		default:
			st.Name = st.Type + " " + pathString(path)
		}
	}
	p.names[st.Name]++
	if k := p.names[st.Name]; k > 1 {
		st.Name = fmt.Sprintf("%s (%d)", st.Name, k)
	}
}

// label names a step in a message: its name, else its place.
func (p *stepParser) label(st *Step, path []int) string {
	if st.Name != "" {
		return fmt.Sprintf("%q", st.Name)
	}
	return "#" + pathString(path)
}

func pathString(path []int) string {
	parts := make([]string, len(path))
	for i, x := range path {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, ".")
}

// compileFilter makes a Filter of a tag/exclude value.
func compileFilter(v string) (Filter, error) {
	f := Filter{Text: v}
	if strings.ContainsAny(v, "^$") {
		re, err := regexp.Compile(v)
		if err != nil {
			return f, err
		}
		f.re = re
	}
	return f, nil
}
