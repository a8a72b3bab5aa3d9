package builder

import (
	"context"
	"fmt"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/plan"
)

// buildStage builds one stage from its base through its last instruction.
func (r *run) buildStage(ctx context.Context, st *plan.Stage) (*stageResult, error) {
	res, fromName, err := r.base(ctx, st)
	if err != nil {
		return nil, err
	}
	cmds := st.Commands
	if len(res.cfg.Config.OnBuild) > 0 {
		trig, err := plan.OnBuild(res.cfg.Config.OnBuild)
		if err != nil {
			return nil, fmt.Errorf("stage %s: %w", st, err)
		}
		cmds = append(trig, cmds...)
	}
	state, err := r.stageState(st, res)
	if err != nil {
		return nil, err
	}
	total := len(cmds) + 1
	ps := r.opts.Progress.Start(r.prefix(st, 1, total) + "FROM " + fromName)
	ps.Done(nil)
	for i, c := range cmds {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		step, err := state.Apply(c)
		if err != nil {
			return nil, err
		}
		name := r.prefix(st, i+2, total) + step.Name
		if step.Kind == plan.Meta {
			if step.CreatedBy != "" {
				res.history = append(res.history, history(step.CreatedBy, res.lastTime(), false))
			}
			continue
		}
		if err := r.execStep(ctx, st, state, res, step, name); err != nil {
			return nil, err
		}
	}
	res.cfg.Config = state.Config
	if state.Author != "" {
		res.cfg.Author = state.Author
	}
	res.state = state
	return res, nil
}

// stageState starts the plan state of a stage: from the state of the stage it is based
// on (BuildKit carries its build args along), else from the base image's config.
func (r *run) stageState(st *plan.Stage, res *stageResult) (*plan.State, error) {
	if res.parent != nil {
		return res.parent.Child(st), nil
	}
	return r.plan.NewState(st, res.cfg.Config)
}

func (r *run) prefix(st *plan.Stage, i, n int) string {
	if r.multi {
		return "[" + st.String() + " " + strconv.Itoa(i) + "/" + strconv.Itoa(n) + "] "
	}
	return "[" + strconv.Itoa(i) + "/" + strconv.Itoa(n) + "] "
}

// base returns a private copy of the stage's starting state.
func (r *run) base(ctx context.Context, st *plan.Stage) (*stageResult, string, error) {
	var src *stageResult
	var name string
	switch {
	case st.BaseStage != nil:
		b, err := r.wait(ctx, st.BaseStage)
		if err != nil {
			return nil, "", err
		}
		src, name = b, st.BaseStage.String()
	case st.Base == "scratch":
		// BuildKit's empty image has "/" as its working directory.
		cf := &v1.ConfigFile{OS: r.plan.OS, Architecture: r.plan.Arch, Config: v1.Config{WorkingDir: "/"}}
		src, name = &stageResult{cfg: cf, key: "scratch"}, "scratch"
	default:
		b, err := r.image(ctx, st.Base)
		if err != nil {
			return nil, "", fmt.Errorf("%s:%d: FROM %s: %w", r.plan.File.Name, st.Line, st.Base, err)
		}
		src, name = b, st.Base
		for _, l := range b.layers {
			r.origin(l, st.String(), "FROM "+st.Base)
		}
	}
	return &stageResult{
		cfg:     src.cfg.DeepCopy(),
		layers:  append([]v1.Layer(nil), src.layers...),
		history: append([]v1.History(nil), src.history...),
		key:     src.key,
		steps:   append([]StepRecord(nil), src.steps...),
		parent:  src.state,
	}, name, nil
}

// image resolves an image reference once per build.
func (r *run) image(ctx context.Context, ref string) (*stageResult, error) {
	r.imgMu.Lock()
	defer r.imgMu.Unlock()
	if res, ok := r.images[ref]; ok {
		return res, nil
	}
	img, err := r.resolver.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config of %s: %w", ref, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading layers of %s: %w", ref, err)
	}
	id, err := img.ConfigName()
	if err != nil {
		return nil, fmt.Errorf("reading ID of %s: %w", ref, err)
	}
	res := &stageResult{cfg: cf, layers: layers, history: cf.History, key: "image:" + id.String()}
	r.images[ref] = res
	return res, nil
}

// lastTime is the time of the newest history entry (or the base's creation), so that
// metadata-only entries do not change a fully cached build's image ID.
func (s *stageResult) lastTime() time.Time {
	t := s.cfg.Created.Time
	for _, h := range s.history {
		if h.Created.After(t) {
			t = h.Created.Time
		}
	}
	return t
}

func history(createdBy string, t time.Time, layer bool) v1.History {
	return v1.History{CreatedBy: createdBy, Created: v1.Time{Time: t.UTC()},
		Comment: "buildkit.dockerfile.v0", EmptyLayer: !layer}
}

// fromSource resolves a --from value (stage or image) to a finished state.
func (r *run) fromSource(ctx context.Context, st *plan.Stage, from string, fromStage *plan.Stage) (*stageResult, error) {
	if fromStage != nil {
		return r.wait(ctx, fromStage)
	}
	res, err := r.image(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("stage %s: --from=%s: %w", st, from, err)
	}
	return res, nil
}
