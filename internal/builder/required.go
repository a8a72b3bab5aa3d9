package builder

import (
	"fmt"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/hush-build/hush/internal/plan"
)

// checkRequired fails before any step runs when a stage the target needs mounts a
// required secret or SSH agent that was not supplied, naming all of them at once — even
// when every step would be a cache hit. It applies the build's own plan from empty base
// configs (ARG values are expanded; ENV inherited from a base image is not known yet).
func checkRequired(p *plan.Plan, opts Options) error {
	missing := map[string][]string{}
	add := func(kind, id string, line int) {
		k := kind + " " + id
		missing[k] = append(missing[k], fmt.Sprintf("%s:%d", p.File.Name, line))
	}
	states := map[*plan.Stage]*plan.State{}
	for _, st := range p.Needed() {
		var state *plan.State
		if parent := states[st.BaseStage]; parent != nil {
			state = parent.Child(st) // as the build starts it: with the parent's build args
		} else {
			var err error
			if state, err = p.NewState(st, v1.Config{}); err != nil {
				return err
			}
		}
		states[st] = state
		for _, c := range st.Commands {
			step, err := state.Apply(c)
			if err != nil {
				break // the real build reports it in context
			}
			for _, m := range step.Mounts {
				if !m.Required {
					continue
				}
				switch m.Type {
				case instructions.MountTypeSecret:
					if id := secretID(m); opts.Secrets == nil || !opts.Secrets.Has(id) {
						add("secret", id, step.Line)
					}
				case instructions.MountTypeSSH:
					if _, ok := opts.SSH[sshID(m)]; !ok {
						add("ssh", sshID(m), step.Line)
					}
				}
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	var parts []string
	for k, lines := range missing {
		parts = append(parts, fmt.Sprintf("%s (%s)", k, strings.Join(lines, ", ")))
	}
	sort.Strings(parts)
	return fmt.Errorf("required build secrets not supplied: %s", strings.Join(parts, "; "))
}
