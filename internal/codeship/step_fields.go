package codeship

import (
	"go.yaml.in/yaml/v3"
)

// rawStep is a step's keys as written.
type rawStep struct {
	name, typ, command, imageName, imageTag, workingDir string
	service, registry, dockercfgPath, dockercfgSvc      *string
	services                                            []string
	tag, exclude                                        *Filter
	envFiles                                            []string
	volumes                                             []Volume
	steps                                               *yaml.Node
}

// apply hands down what the step sets over what its group handed it.
func (r *rawStep) apply(in inherited) inherited {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&in.service, r.service)
	set(&in.registry, r.registry)
	set(&in.dockercfgPath, r.dockercfgPath)
	set(&in.dockercfgService, r.dockercfgSvc)
	if r.tag != nil {
		in.tag = *r.tag
	}
	if r.exclude != nil {
		in.exclude = *r.exclude
	}
	return in
}

// fields reads a step's keys; unknown ones are warnings.
func (p *stepParser) fields(n *yaml.Node) (*rawStep, error) {
	es, err := p.src.entries(n)
	if err != nil {
		return nil, err
	}
	r := &rawStep{}
	// The name first, so that errors in other keys can name the step.
	for _, e := range es {
		if e.key.Value == "name" {
			if r.name, err = p.src.str(e.value, "name"); err != nil {
				return nil, err
			}
		}
	}
	for _, e := range es {
		if err := p.field(r, e); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (p *stepParser) field(r *rawStep, e entry) error {
	src := p.src
	what := e.key.Value
	if r.name != "" {
		what = "step \"" + r.name + "\": " + what
	}
	ptr := func() (*string, error) {
		v, err := src.str(e.value, what)
		return &v, err
	}
	var err error
	switch e.key.Value {
	case "name":
	case "type":
		r.typ, err = src.str(e.value, what)
	case "service":
		r.service, err = ptr()
	case "services":
		r.services, err = src.strs(e.value, what)
	case "command":
		r.command, err = src.str(e.value, what)
	case "image_name":
		r.imageName, err = src.str(e.value, what)
	case "image_tag":
		r.imageTag, err = src.str(e.value, what)
	case "registry":
		r.registry, err = ptr()
	case "encrypted_dockercfg_path", "dockercfg_path":
		r.dockercfgPath, err = ptr()
	case "dockercfg_service":
		r.dockercfgSvc, err = ptr()
	case "tag", "exclude":
		err = p.filter(r, e, what)
	case "encrypted_env_file":
		r.envFiles, err = src.strs(e.value, what)
	case "volumes":
		r.volumes, err = parseVolumes(src, e.value, what)
	case "working_dir":
		r.workingDir, err = src.str(e.value, what)
	case "steps":
		if v := deref(e.value); v.Kind != yaml.SequenceNode {
			err = src.errf(v, "%s: want a list of steps", what)
		} else {
			r.steps = v
		}
	case "on_fail":
		src.warnf(e.key, "%s: ignored (hush does not run on_fail steps)", what)
	default:
		src.warnf(e.key, "%s: unknown key, ignored", what)
	}
	return err
}

// filter reads tag: or exclude:; a regular expression Go cannot compile (lookahead) is
// an error naming the step.
func (p *stepParser) filter(r *rawStep, e entry, what string) error {
	v, err := p.src.str(e.value, what)
	if err != nil {
		return err
	}
	f, err := compileFilter(v)
	if err != nil {
		name := r.name
		if name == "" {
			name = "(unnamed)"
		}
		return p.src.errf(e.value, "step %q: %s %q is not a regular expression Go can run: %v", name, e.key.Value, v, err)
	}
	if e.key.Value == "tag" {
		r.tag = &f
	} else {
		r.exclude = &f
	}
	return nil
}
