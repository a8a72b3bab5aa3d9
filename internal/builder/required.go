package builder

import (
	"fmt"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/hush-build/hush/internal/plan"
)

// neededSteps applies the build's own plan from empty base configs to every stage the
// target needs (ARG values are expanded; ENV inherited from a base image is not known
// yet; a stage based on another starts from its state, with its build args, as the build
// does) and calls fn with each step. A step that does not apply ends its stage's walk:
// the real build reports it in context.
func neededSteps(p *plan.Plan, fn func(*plan.Step)) error {
	states := map[*plan.Stage]*plan.State{}
	for _, st := range p.Needed() {
		var state *plan.State
		if parent := states[st.BaseStage]; parent != nil {
			state = parent.Child(st)
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
				break
			}
			fn(step)
		}
	}
	return nil
}

// checkRequired fails before any step runs when a stage the target needs mounts a
// required secret or SSH agent that was not supplied, naming all of them at once — even
// when every step would be a cache hit. It applies the build's own plan (neededSteps).
func checkRequired(p *plan.Plan, opts Options) error {
	missing := map[string][]string{}
	add := func(kind, id string, line int) {
		k := kind + " " + id
		missing[k] = append(missing[k], fmt.Sprintf("%s:%d", p.File.Name, line))
	}
	err := neededSteps(p, func(step *plan.Step) {
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
	})
	if err != nil || len(missing) == 0 {
		return err
	}
	var parts []string
	for k, lines := range missing {
		parts = append(parts, fmt.Sprintf("%s (%s)", k, strings.Join(lines, ", ")))
	}
	sort.Strings(parts)
	return fmt.Errorf("required build secrets not supplied: %s", strings.Join(parts, "; "))
}

// checkEntitlements fails before any step runs when a RUN the target needs asks for an
// entitlement the build was not granted, as BuildKit refuses it: RUN --network=host needs
// --allow network.host, RUN --security=insecure --allow security.insecure.
func checkEntitlements(p *plan.Plan, opts Options) error {
	var errs []string
	err := neededSteps(p, func(step *plan.Step) {
		if err := entitled(step, opts); err != nil {
			errs = append(errs, fmt.Sprintf("%s:%d: %v", p.File.Name, step.Line, err))
		}
	})
	if err != nil || len(errs) == 0 {
		return err
	}
	return fmt.Errorf("%s", strings.Join(errs, "; "))
}

// entitled checks one step's entitlements.
func entitled(step *plan.Step, opts Options) error {
	if step.Kind != plan.Run {
		return nil
	}
	if step.Network == "host" && !opts.Allow.NetworkHost {
		return fmt.Errorf("RUN --network=host: network.host is not allowed (grant it with --allow network.host)")
	}
	if step.Security == instructions.SecurityInsecure && !opts.Allow.SecurityInsecure {
		return fmt.Errorf("RUN --security=insecure: security.insecure is not allowed (grant it with --allow security.insecure)")
	}
	return nil
}
