package builder

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/plan"
)

// buildStage builds one stage from its base through its last instruction.
func (r *run) buildStage(ctx context.Context, st *plan.Stage) (*stageResult, error) {
	res, err := r.base(ctx, st)
	if err != nil {
		return nil, err
	}
	cmds := st.Commands
	var trig []instructions.Command
	if len(res.cfg.Config.OnBuild) > 0 && !st.Replaced {
		if trig, err = plan.OnBuild(res.cfg.Config.OnBuild); err != nil {
			return nil, fmt.Errorf("stage %s: %w", st, err)
		}
		cmds = append(trig, cmds...)
	}
	state, err := r.stageState(st, res)
	if err != nil {
		return nil, err
	}
	n := newNumbering(st, cmds, len(trig), res.display != "")
	if res.display != "" {
		ps := r.opts.Progress.Start(r.prefix(st, nil, n.next(false)) + "FROM " + res.display)
		ps.Done(nil)
	}
	for i, c := range cmds {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		step, err := state.Apply(c)
		if err != nil {
			return nil, err
		}
		if step.Kind == plan.Meta {
			if step.CreatedBy != "" {
				res.history = append(res.history, history(step.CreatedBy, res.lastTime(), false))
			}
			continue
		}
		name := r.prefix(st, state, n.next(i < len(trig))) + step.Name
		if err := r.waitInputs(ctx, st, step); err != nil {
			return nil, err
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

// waitInputs waits for the stages a step reads (COPY --from, RUN --mount=from) before
// the step shows as started, as BuildKit starts a vertex once its inputs are done.
func (r *run) waitInputs(ctx context.Context, st *plan.Stage, step *plan.Step) error {
	var deps []*plan.Stage
	if step.Copy != nil && step.Copy.FromStage != nil {
		deps = append(deps, step.Copy.FromStage)
	}
	if readsContext(step) {
		r.showContextLoad()
	}
	for _, m := range step.Mounts {
		if m.From != "" {
			if fs, _ := r.plan.ResolveFrom(st, m.From); fs != nil {
				deps = append(deps, fs)
			}
		}
	}
	for _, d := range deps {
		if _, err := r.wait(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// readsContext reports a COPY or ADD of context files, or a RUN that binds the context.
func readsContext(step *plan.Step) bool {
	if c := step.Copy; c != nil && c.From == "" {
		for _, src := range c.Sources {
			if !strings.Contains(src, "://") && !strings.HasPrefix(src, "git@") {
				return true
			}
		}
	}
	for _, m := range step.Mounts {
		if m.Type == instructions.MountTypeBind && m.From == "" {
			return true
		}
	}
	return false
}

// numbering is BuildKit's step counting in a stage: n/m over the steps that make a vertex
// (FROM an image, RUN, COPY, ADD, WORKDIR; every ONBUILD trigger counts), the number
// padded to m's width.
type numbering struct {
	i, total int
}

func newNumbering(st *plan.Stage, cmds []instructions.Command, triggers int, fromImage bool) *numbering {
	n := &numbering{total: triggers}
	if fromImage {
		n.total++
	}
	for _, c := range cmds[triggers:] {
		switch c.(type) {
		case *instructions.RunCommand, *instructions.CopyCommand, *instructions.AddCommand, *instructions.WorkdirCommand:
			n.total++
		}
	}
	return n
}

// next is the next step's "i/m] " (and ONBUILD for a trigger).
func (n *numbering) next(onbuild bool) string {
	n.i++
	w := len(strconv.Itoa(n.total))
	s := fmt.Sprintf("%*d/%d] ", w, n.i, n.total)
	if onbuild {
		s += "ONBUILD "
	}
	return s
}

// prefix is BuildKit's step prefix "[PLATFORM STAGE " before the numbering: the
// platform in a multi-platform build (with "->ARCH" when the stage's platform is not the
// target its TARGET* args name), the stage when the Dockerfile has several.
func (r *run) prefix(st *plan.Stage, state *plan.State, num string) string {
	p := "["
	if r.opts.MultiPlatform {
		p += plan.FormatPlatform(st.Platform)
		if state != nil {
			p += state.CrossTarget()
		}
		p += " "
	}
	if len(r.plan.Stages) > 1 {
		p += st.String() + " "
	}
	return p + num
}

// base returns a private copy of the stage's starting state; its display is the image
// a FROM names (for the FROM step), empty for scratch and a stage.
func (r *run) base(ctx context.Context, st *plan.Stage) (*stageResult, error) {
	var src *stageResult
	switch {
	case st.Replaced:
		nc, _ := r.namedContext(st.Name)
		b, err := r.contextStage(ctx, st.Name, nc, st.Platform)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: stage %s: %w", r.plan.File.Name, st.Line, st.Name, err)
		}
		src = b
	case st.BaseStage != nil:
		b, err := r.wait(ctx, st.BaseStage)
		if err != nil {
			return nil, err
		}
		// Not its display: a stage based on another shows no FROM step.
		src = &stageResult{cfg: b.cfg, layers: b.layers, history: b.history, key: b.key, baseLayers: b.baseLayers,
			steps: b.steps, state: b.state}
	case st.Base == "scratch":
		// BuildKit's empty image has "/" as its working directory.
		cf := &v1.ConfigFile{OS: st.Platform.OS, Architecture: st.Platform.Architecture, Variant: st.Platform.Variant,
			Config: v1.Config{WorkingDir: "/"}}
		src = &stageResult{cfg: cf, key: scratchKey(st.Platform)}
	default:
		b, err := r.baseImage(ctx, st.Base, st.Platform)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: FROM %s: %w", r.plan.File.Name, st.Line, st.Base, err)
		}
		src = b
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
		display:    src.display,
		steps:      append([]StepRecord(nil), src.steps...),
		parent:     src.state,
	}, nil
}

// image resolves an image reference for a platform once per build.
func (r *run) image(ctx context.Context, ref string, p ocispecs.Platform) (*stageResult, error) {
	r.imgMu.Lock()
	defer r.imgMu.Unlock()
	key := ref + " " + plan.FormatPlatform(p)
	if res, ok := r.images[key]; ok {
		return res, nil
	}
	meta := r.startMetadata(ref, p)
	img, err := r.resolver.ResolvePlatform(ctx, ref, v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant})
	if meta != nil {
		meta.Done(err)
	}
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
	res := &stageResult{cfg: cf, layers: layers, history: cf.History, key: "image:" + id.String(), baseLayers: len(layers),
		display: imageDisplay(ref, img)}
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

// imageDisplay is how BuildKit names a FROM image: normalized, with its manifest digest.
func imageDisplay(ref string, img v1.Image) string {
	norm, err := image.NormalizeName(ref)
	if err != nil {
		return ref
	}
	d, err := img.Digest()
	if err != nil || strings.Contains(norm, "@") {
		return norm
	}
	return norm + "@" + d.String()
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
