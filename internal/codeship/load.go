package codeship

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ServicesFiles and StepsFiles are the names looked for in a pipeline's directory, in order.
var (
	ServicesFiles = []string{"codeship-services.yml", "codeship-services.yaml", "codeship-services.json", "docker-compose.yml", "docker-compose.yaml"}
	StepsFiles    = []string{"codeship-steps.yml", "codeship-steps.json"}
)

// Pipeline is a services file and a steps file, checked against each other.
type Pipeline struct {
	// Dir is the pipeline's directory (the repository); ServicesFile and StepsFile are
	// the files' paths as given or found, shown relative to Dir in messages.
	Dir          string
	ServicesFile string
	StepsFile    string
	Services     *Services
	Steps        []*Step
	Warnings     []Warning
}

// Files names the files to load; empty ones are looked for in Dir.
type Files struct {
	Dir      string
	Services string
	Steps    string
	// NoSteps loads only the services file (hush run).
	NoSteps bool
}

// Load finds and parses both files and checks that every step names a defined service.
func Load(f Files) (*Pipeline, error) {
	dir, err := filepath.Abs(f.Dir)
	if err != nil {
		return nil, err
	}
	p := &Pipeline{Dir: dir}
	if p.ServicesFile, err = find(dir, f.Services, ServicesFiles, "--services-path", "services"); err != nil {
		return nil, err
	}
	if p.Services, err = ParseServices(p.ServicesFile, p.Rel(p.ServicesFile), &p.Warnings); err != nil {
		return nil, err
	}
	if f.NoSteps {
		return p, nil
	}
	if p.StepsFile, err = find(dir, f.Steps, StepsFiles, "--steps-path", "steps"); err != nil {
		return nil, err
	}
	if p.Steps, err = ParseSteps(p.StepsFile, p.Rel(p.StepsFile), &p.Warnings); err != nil {
		return nil, err
	}
	return p, p.checkRefs(p.Steps)
}

// find returns the file given (relative to dir) or the first of names present in dir.
func find(dir, given string, names []string, flag, what string) (string, error) {
	if given != "" {
		if !filepath.IsAbs(given) {
			given = filepath.Join(dir, given)
		}
		if _, err := os.Stat(given); err != nil {
			return "", fmt.Errorf("%s: %w", flag, err)
		}
		return given, nil
	}
	for _, n := range names {
		p := filepath.Join(dir, n)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("no %s file in %s: want one of %s (or %s)", what, dir, strings.Join(names, ", "), flag)
}

// Rel shows path relative to the pipeline's directory when it is inside it.
func (p *Pipeline) Rel(path string) string {
	if r, err := filepath.Rel(p.Dir, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

// checkRefs checks that steps name defined services.
func (p *Pipeline) checkRefs(steps []*Step) error {
	for _, st := range steps {
		for _, ref := range []string{st.Service, st.DockercfgService} {
			if ref == "" {
				continue
			}
			if _, ok := p.Services.Get(ref); !ok {
				names := p.Services.Names()
				sort.Strings(names)
				return &Error{File: st.File, Line: st.Line, Msg: fmt.Sprintf("step %q: service %q is not defined in %s (services: %s)",
					st.Name, ref, p.Rel(p.ServicesFile), strings.Join(names, ", "))}
			}
		}
		if err := p.checkRefs(st.Steps); err != nil {
			return err
		}
	}
	return nil
}

// Walk calls fn for every step, depth first, with whether a group above it or the step
// itself is skipped for the build tag.
func Walk(steps []*Step, fn func(st *Step, depth int)) {
	var walk func([]*Step, int)
	walk = func(ss []*Step, d int) {
		for _, st := range ss {
			fn(st, d)
			walk(st.Steps, d+1)
		}
	}
	walk(steps, 0)
}

// Skipped reports why st does not run for the build tag: "exclude", "tag", or "" (it runs).
// exclude wins over tag.
func (st *Step) Skipped(tag string) string {
	if st.Exclude.Set() && st.Exclude.Match(tag) {
		return "exclude"
	}
	if st.Tag.Set() && !st.Tag.Match(tag) {
		return "tag"
	}
	return ""
}

// Needed lists the services the steps that run for tag use, in the services file's
// order: each step's service and what it needs (NeededBy), and the dockercfg services of
// push steps (only when push steps run).
func (p *Pipeline) Needed(tag string, push bool) []string {
	var roots []string
	var walk func([]*Step)
	walk = func(ss []*Step) {
		for _, st := range ss {
			if st.Skipped(tag) != "" || (st.Type == TypePush && !push) {
				continue
			}
			if st.Service != "" {
				roots = append(roots, st.Service)
			}
			if st.Type == TypePush && st.EncryptedDockercfgPath == "" && st.DockercfgService != "" {
				roots = append(roots, st.DockercfgService)
			}
			walk(st.Steps)
		}
	}
	walk(p.Steps)
	return p.NeededBy(roots)
}

// NeededBy lists, in the services file's order, the named services and those they need:
// links, depends_on and volumes_from (transitively), and their dockercfg services.
func (p *Pipeline) NeededBy(names []string) []string {
	want := map[string]bool{}
	var add func(string)
	add = func(name string) {
		svc, ok := p.Services.Get(name)
		if !ok || want[name] {
			return
		}
		want[name] = true
		for _, l := range svc.Links {
			add(l.Service)
		}
		for _, d := range append(append([]string(nil), svc.DependsOn...), svc.VolumesFrom...) {
			add(d)
		}
		if svc.DockercfgService != "" && svc.EncryptedDockercfgPath == "" {
			add(svc.DockercfgService)
		}
	}
	for _, n := range names {
		add(n)
	}
	var out []string
	for _, n := range p.Services.Names() {
		if want[n] {
			out = append(out, n)
		}
	}
	return out
}
