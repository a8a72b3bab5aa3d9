package builder

import (
	"context"
	"fmt"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hush-build/hush/internal/plan"
)

// buildStage builds one stage from its base through its last instruction.
func (r *run) buildStage(ctx context.Context, st *plan.Stage) (*stageResult, error) {
	res, fromName, err := r.base(ctx, st)
	if err != nil {
		return nil, err
	}
	cmds := st.Commands
	if len(res.cfg.Config.OnBuild) > 0 && !st.Replaced {
		trig, err := plan.OnBuild(res.cfg.Config.OnBuild)
		if err != nil {
			return nil, fmt.Errorf("stage %s: %w", st, err)
		}
		cmds = append(trig, cmds...)
	}
	state, err := r.plan.NewState(st, res.cfg.Config)
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
			res.history = append(res.history, history(step.CreatedBy, res.lastTime(), false))
			continue
		}
		if err := r.execStep(ctx, st, state, res, step, name); err != nil {
			return nil, err
		}
	}
	res.cfg.Config = state.Config
	return res, nil
}

// prefix is BuildKit's step prefix: [PLATFORM STAGE i/n], the platform only in a
// multi-platform build, the stage only when several are built.
func (r *run) prefix(st *plan.Stage, i, n int) string {
	p := "["
	if r.opts.MultiPlatform {
		p += plan.FormatPlatform(st.Platform) + " "
	}
	if r.multi {
		p += st.String() + " "
	}
	return p + strconv.Itoa(i) + "/" + strconv.Itoa(n) + "] "
}

// base returns a private copy of the stage's starting state.
func (r *run) base(ctx context.Context, st *plan.Stage) (*stageResult, string, error) {
	var src *stageResult
	var name string
	switch {
	case st.Replaced:
		nc, _ := r.namedContext(st.Name)
		b, err := r.contextStage(ctx, st.Name, nc, st.Platform)
		if err != nil {
			return nil, "", fmt.Errorf("%s:%d: stage %s: %w", r.plan.File.Name, st.Line, st.Name, err)
		}
		src, name = b, "context "+st.Name
	case st.BaseStage != nil:
		b, err := r.wait(ctx, st.BaseStage)
		if err != nil {
			return nil, "", err
		}
		src, name = b, st.BaseStage.String()
	case st.Base == "scratch":
		cf := &v1.ConfigFile{OS: st.Platform.OS, Architecture: st.Platform.Architecture, Variant: st.Platform.Variant}
		src, name = &stageResult{cfg: cf, key: scratchKey(st.Platform)}, "scratch"
	default:
		b, err := r.baseImage(ctx, st.Base, st.Platform)
		if err != nil {
			return nil, "", fmt.Errorf("%s:%d: FROM %s: %w", r.plan.File.Name, st.Line, st.Base, err)
		}
		src, name = b, st.Base
		for _, l := range b.layers {
			r.origin(l, st.String(), "FROM "+st.Base)
		}
	}
	return &stageResult{
		cfg:        src.cfg.DeepCopy(),
		layers:     append([]v1.Layer(nil), src.layers...),
		history:    append([]v1.History(nil), src.history...),
		key:        src.key,
		baseLayers: src.baseLayers,
	}, name, nil
}

// image resolves an image reference for a platform once per build.
func (r *run) image(ctx context.Context, ref string, p ocispecs.Platform) (*stageResult, error) {
	r.imgMu.Lock()
	defer r.imgMu.Unlock()
	key := ref + " " + plan.FormatPlatform(p)
	if res, ok := r.images[key]; ok {
		return res, nil
	}
	img, err := r.resolver.ResolvePlatform(ctx, ref, v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant})
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
	res := &stageResult{cfg: cf, layers: layers, history: cf.History, key: "image:" + id.String(), baseLayers: len(layers)}
	r.mats.addImage(ref, img)
	r.images[key] = res
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

// baseImage is a FROM image for a platform: a named image context of that name, else the
// image.
func (r *run) baseImage(ctx context.Context, ref string, p ocispecs.Platform) (*stageResult, error) {
	if nc, ok := r.namedContext(ref); ok {
		return r.contextStage(ctx, ContextName(ref), nc, p)
	}
	return r.image(ctx, ref, p)
}

// scratchKey is the cache key of an empty base: the same for every build on the host's
// platform, its own for another platform (what runs on it differs).
func scratchKey(p ocispecs.Platform) string {
	if plan.FormatPlatform(p) == plan.FormatPlatform(plan.HostPlatform()) {
		return "scratch"
	}
	return "scratch " + plan.FormatPlatform(p)
}

// fromSource resolves a --from value (stage, named image context or image) to a finished
// state.
func (r *run) fromSource(ctx context.Context, st *plan.Stage, from string, fromStage *plan.Stage) (*stageResult, error) {
	if fromStage != nil {
		return r.wait(ctx, fromStage)
	}
	res, err := r.baseImage(ctx, from, st.Platform)
	if err != nil {
		return nil, fmt.Errorf("stage %s: --from=%s: %w", st, from, err)
	}
	return res, nil
}
