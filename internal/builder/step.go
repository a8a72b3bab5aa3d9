package builder

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/hush-build/hush/internal/cache"
	"github.com/hush-build/hush/internal/lease"
	"github.com/hush-build/hush/internal/plan"
	"github.com/hush-build/hush/internal/progress"
	"github.com/hush-build/hush/internal/snapshot"
)

// action is a prepared layer-producing step: its cache key and how to execute it.
type action struct {
	key string
	// bound: the key holds this machine's fingerprint key (StepRecord.HostBound).
	bound bool
	// execute runs the step on the mounted workspace and returns what must still be done
	// to its upper dir once the rootfs is unmounted (nil: nothing).
	execute func(ctx context.Context, ws *snapshot.Workspace, out *progress.Step) (finish, error)
	cleanup func()
}

// finish completes a step on its upper dir after the rootfs is unmounted (removing the
// mount-point stubs a runtime created).
type finish func(upper string) error

// execStep runs (or reuses from cache) one Run, Copy or Mkdir step and appends its
// layer and history to res.
func (r *run) execStep(ctx context.Context, st *plan.Stage, state *plan.State, res *stageResult, step *plan.Step, name string) error {
	ps := r.opts.Progress.Start(name)
	err := r.execStepIn(ctx, st, state, res, step, ps)
	if err != nil {
		ps.Done(err)
	}
	return err
}

func (r *run) execStepIn(ctx context.Context, st *plan.Stage, state *plan.State, res *stageResult, step *plan.Step, ps *progress.Step) error {
	var a *action
	var err error
	switch step.Kind {
	case plan.Run:
		a, err = r.runAction(ctx, st, res, step)
	case plan.Copy:
		a, err = r.copyAction(ctx, st, res, step)
	case plan.Mkdir:
		a, err = r.mkdirAction(res, step)
	default:
		err = fmt.Errorf("internal error: step kind %d", step.Kind)
	}
	if err != nil {
		return r.stepErr(step, err)
	}
	if a.cleanup != nil {
		defer a.cleanup()
	}
	if a.bound {
		r.markBound(a.key)
	}
	if !r.noCache(st) {
		rec, l, ok, err := r.cached(ctx, a.key)
		if err != nil {
			return r.stepErr(step, err)
		}
		if ok {
			r.apply(st, res, step, a.key, rec, l)
			ps.Cached()
			return nil
		}
	}
	rec, l, err := r.executeInWorkspace(ctx, res, a, ps)
	if err != nil {
		return r.stepErr(step, err)
	}
	if err := r.b.Cache.Put(a.key, rec); err != nil {
		return err
	}
	r.apply(st, res, step, a.key, rec, l)
	ps.Done(nil)
	return nil
}

// cached returns the record of key and its layer from the local cache, else from the
// imported caches (importRecord).
func (r *run) cached(ctx context.Context, key string) (*cache.Record, v1.Layer, bool, error) {
	if rec, ok := r.b.Cache.Get(key); ok {
		if l, ok := r.cachedLayer(rec); ok {
			_ = r.b.Cache.Touch(key) // the garbage collector keeps what was used last
			return rec, l, true, nil
		}
	}
	return r.importRecord(ctx, key)
}

func (r *run) stepErr(step *plan.Step, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%s:%d: %w", r.plan.File.Name, step.Line, err)
}

func (r *run) apply(st *plan.Stage, res *stageResult, step *plan.Step, key string, rec *cache.Record, l v1.Layer) {
	if l != nil {
		res.layers = append(res.layers, l)
		r.origin(l, st.String(), fmt.Sprintf("%s:%d %s", r.plan.File.Name, step.Line, step.Name))
	}
	res.history = append(res.history, history(step.CreatedBy, rec.Created, l != nil))
	res.key = key
	res.steps = append(res.steps, StepRecord{Key: key, Record: rec, Layer: l, HostBound: r.isBound(key)})
}

// cachedLayer returns the layer of a record when its blob is still in the store, held by
// the build's lease so that no removal takes it away before the build ends.
func (r *run) cachedLayer(rec *cache.Record) (v1.Layer, bool) {
	if rec.Layer == nil {
		return nil, true
	}
	l, err := r.layerFromRecord(rec.Layer)
	if err != nil {
		return nil, false
	}
	d, err := l.Digest()
	if err != nil {
		return nil, false
	}
	if r.unauditedElsewhere(d.String()) {
		return nil, false // a build that had secrets made it and never audited it
	}
	if ok, err := r.b.Images.HoldBlob(r.s.lease, d); err != nil || !ok {
		return nil, false
	}
	return l, r.s.lease.Hold(lease.LayerRef(rec.Layer.DiffID)) == nil
}

func (r *run) layerFromRecord(cl *cache.Layer) (v1.Layer, error) {
	d, err := v1.NewHash(cl.Digest)
	if err != nil {
		return nil, err
	}
	diff, err := v1.NewHash(cl.DiffID)
	if err != nil {
		return nil, err
	}
	return r.b.Images.BlobLayer(d, diff, cl.Size, types.MediaType(cl.MediaType))
}

// lowers returns the unpacked dirs of layers, top-most first, unpacking as needed.
func (r *run) lowers(layers []v1.Layer) ([]string, error) { return r.b.lowers(r.s.lease, layers) }

// executeInWorkspace mounts a fresh upper over res's layers, runs the action and turns the
// upper into a layer.
func (r *run) executeInWorkspace(ctx context.Context, res *stageResult, a *action, ps *progress.Step) (*cache.Record, v1.Layer, error) {
	lowers, err := r.lowers(res.layers)
	if err != nil {
		return nil, nil, err
	}
	ws, err := r.b.Snapshots.NewWorkspace()
	if err != nil {
		return nil, nil, err
	}
	defer ws.Remove()
	unmount, err := r.b.mounts.Mount(ws, lowers)
	if err != nil {
		return nil, nil, err
	}
	done, err := a.execute(ctx, ws, ps)
	if uerr := unmount(); err == nil && uerr != nil {
		err = fmt.Errorf("unmounting rootfs: %w", uerr)
	}
	if err == nil && done != nil {
		err = done(ws.Upper)
	}
	if err != nil {
		return nil, nil, err
	}
	return r.commit(ws)
}

// commit turns the workspace upper into a gzip layer blob in the image store. An upper
// with no changes still makes a layer (an empty tar), as BuildKit's RUN, COPY and WORKDIR
// do.
func (r *run) commit(ws *snapshot.Workspace) (*cache.Record, v1.Layer, error) {
	rec := &cache.Record{Created: time.Now().UTC()}
	blob, err := r.b.Images.NewBlob()
	if err != nil {
		return nil, nil, err
	}
	gz, err := gzip.NewWriterLevel(blob, gzip.DefaultCompression)
	if err != nil {
		blob.Abort()
		return nil, nil, err
	}
	diffID, err := r.b.Snapshots.CommitHeld(ws, gz, r.s.lease)
	if err == nil {
		err = gz.Close()
	}
	if err != nil {
		blob.Abort()
		return nil, nil, fmt.Errorf("writing layer: %w", err)
	}
	digest, size, err := blob.CommitHeld(r.s.lease)
	if err != nil {
		return nil, nil, fmt.Errorf("storing layer: %w", err)
	}
	rec.Layer = &cache.Layer{Digest: digest.String(), DiffID: diffID.String(), Size: size, MediaType: string(types.OCILayer)}
	// Before the cache record: a kill from here on leaves a journaled layer.
	if err := r.adopt(digest.String(), diffID.String()); err != nil {
		return nil, nil, err
	}
	l, err := r.layerFromRecord(rec.Layer)
	if err != nil {
		return nil, nil, err
	}
	return rec, l, nil
}

// argsString renders argv for messages the way BuildKit does.
func argsString(args []string) string { return strings.Join(args, " ") }

// unauditedElsewhere reports a layer another build committed with secret values and has
// not audited (yet, or ever): it must not be reused.
func (r *run) unauditedElsewhere(digest string) bool {
	if r.b.unaudited == nil || !r.b.unaudited.has(digest) {
		return false
	}
	r.originMu.Lock()
	defer r.originMu.Unlock()
	return !r.produced[digest]
}

// adopt records a layer blob the build put into the store (committed or imported) as its
// own: usable by this build, and journaled until its audit when the build has secret
// values — before the cache record, so that a kill from here on leaves a journaled layer.
func (r *run) adopt(digest, diffID string) error {
	r.originMu.Lock()
	r.produced[digest] = true
	r.originMu.Unlock()
	if r.opts.Unaudited && r.b.unaudited != nil {
		return r.b.unaudited.add(digest, diffID, r.s.id())
	}
	return nil
}

// markBound notes a key bound to this machine; isBound reports one (keys chained to it
// are bound too).
func (r *run) markBound(key string) {
	r.originMu.Lock()
	defer r.originMu.Unlock()
	r.bound[key] = true
}

func (r *run) isBound(keys ...string) bool {
	r.originMu.Lock()
	defer r.originMu.Unlock()
	for _, k := range keys {
		if r.bound[k] {
			return true
		}
	}
	return false
}

// steps are the build's step records: the target's chain, then every other stage's.
func (r *run) steps() []StepRecord {
	var out []StepRecord
	seen := map[string]bool{}
	add := func(recs []StepRecord, target bool) {
		for _, s := range recs {
			if !seen[s.Key] {
				seen[s.Key] = true
				s.Target = target
				out = append(out, s)
			}
		}
	}
	add(r.futures[r.plan.Target].res.steps, true)
	for _, st := range r.plan.Needed() {
		add(r.futures[st].res.steps, false)
	}
	return out
}
