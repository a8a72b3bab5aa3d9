package builder

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/cache"
	"github.com/hush-build/hush/internal/lease"
	"github.com/hush-build/hush/internal/progress"
	"github.com/hush-build/hush/internal/remotecache"
)

// loadCaches reads every --cache-from cache. One that is missing (a first build) or
// unusable is skipped with a warning, as buildx does; the build goes on without it.
func (b *Builder) loadCaches(ctx context.Context, req *Request) []*remotecache.Source {
	if req.NoCache || len(req.CacheFrom) == 0 {
		return nil
	}
	a := cacheAccess(req.Registry)
	var out []*remotecache.Source
	for _, im := range req.CacheFrom {
		step := req.Progress.Start("importing cache manifest from " + im.String())
		src, err := remotecache.Load(ctx, im, a)
		if err != nil {
			step.Done(nil)
			req.Progress.Warn(err.Error() + "; building without it")
			continue
		}
		fmt.Fprintf(step, "%d cache record(s)\n", src.Len())
		step.Done(nil)
		out = append(out, src)
	}
	return out
}

func cacheAccess(reg Registry) remotecache.Access {
	return remotecache.Access{Keychain: reg.Keychain, Transport: reg.Transport, Insecure: reg.Insecure}
}

// importRecord looks key up in the imported caches, in order. A hit's layer is fetched
// into the store, its digest and diffID verified on the way (a mismatch fails the build);
// it then is the build's own layer — in the self-audit, journaled until audited — and its
// record goes into the local cache.
func (r *run) importRecord(ctx context.Context, key string) (*cache.Record, v1.Layer, bool, error) {
	for _, src := range r.opts.CacheFrom {
		rec, ok := src.Lookup(key)
		if !ok {
			continue
		}
		l, ok, err := r.importLayer(ctx, src, rec)
		if err != nil {
			return nil, nil, false, err
		}
		if !ok {
			return nil, nil, false, nil
		}
		if err := r.b.Cache.Put(key, rec); err != nil {
			return nil, nil, false, err
		}
		return rec, l, true, nil
	}
	return nil, nil, false, nil
}

// importLayer puts the layer of an imported record into the store, held by the build's
// lease; ok is false when the layer must not be used (another build made it with secret
// values and has not audited it).
func (r *run) importLayer(ctx context.Context, src *remotecache.Source, rec *cache.Record) (v1.Layer, bool, error) {
	if rec.Layer == nil {
		return nil, true, nil
	}
	d, err := v1.NewHash(rec.Layer.Digest)
	if err != nil {
		return nil, false, err
	}
	if r.unauditedElsewhere(d.String()) {
		return nil, false, nil
	}
	have, err := r.b.Images.HoldBlob(r.s.lease, d)
	if err != nil {
		return nil, false, err
	}
	if have {
		// The blob is already here: it must still be the layer the record says it is.
		err = r.verifyLocal(ctx, d, rec.Layer)
	} else {
		err = r.fetchBlob(ctx, src, rec.Layer)
	}
	if err != nil {
		return nil, false, err
	}
	if err := r.s.lease.Hold(lease.BlobRef(rec.Layer.Digest), lease.LayerRef(rec.Layer.DiffID)); err != nil {
		return nil, false, err
	}
	l, err := r.layerFromRecord(rec.Layer)
	return l, err == nil, err
}

// fetchBlob writes the layer's blob from src into the store and adopts it.
func (r *run) fetchBlob(ctx context.Context, src *remotecache.Source, l *cache.Layer) error {
	blob, err := r.b.Images.NewBlob()
	if err != nil {
		return err
	}
	if err := src.Fetch(ctx, l, blob); err != nil {
		blob.Abort()
		return err
	}
	if _, _, err := blob.CommitHeld(r.s.lease); err != nil {
		return fmt.Errorf("storing layer %s: %w", l.Digest, err)
	}
	return r.adopt(l.Digest, l.DiffID)
}

// verifyLocal checks a stored blob against an imported record's diffID.
func (r *run) verifyLocal(ctx context.Context, d v1.Hash, l *cache.Layer) error {
	layer, err := r.layerFromRecord(l)
	if err != nil {
		return err
	}
	rc, err := layer.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := remotecache.Verify(ctx, rc, d, l.Size, l.DiffID); err != nil {
		return fmt.Errorf("the imported cache record for layer %s: %w", d, err)
	}
	return nil
}

// reportImports says, per imported cache, how many steps it gave and what was pulled.
func reportImports(srcs []*remotecache.Source, disp *progress.Display) {
	for _, s := range srcs {
		step := disp.Start("cache from " + s.String())
		fmt.Fprintf(step, "%d step(s) reused, %d bytes pulled\n", s.Hits(), s.Pulled())
		step.Done(nil)
	}
}

// inlineCache puts the build's cache records in the image's manifest when an export asks
// for type=inline.
func inlineCache(img v1.Image, req *Request, res *Result, layersOK bool) (v1.Image, error) {
	for _, e := range req.CacheTo {
		if e.Type != remotecache.TypeInline {
			continue
		}
		step := req.Progress.Start("preparing layers for inline cache")
		entries, note := exportEntries(res, false, layersOK)
		out, n, err := remotecache.Inline(img, entries)
		if err == nil {
			fmt.Fprintf(step, "%d cache record(s)%s\n", n, note)
		}
		step.Done(err)
		return out, err
	}
	return img, nil
}

// exportCaches writes the build's records to each registry and local --cache-to, after
// the image was published (as buildx). A failed export fails the build unless it has
// ignore-error=true.
func (b *Builder) exportCaches(ctx context.Context, req *Request, res *Result, layersOK bool) error {
	var errs []error
	for _, e := range req.CacheTo {
		if e.Type == remotecache.TypeInline {
			continue
		}
		step := req.Progress.Start("exporting cache to " + e.String())
		entries, note := exportEntries(res, e.Max, layersOK)
		sum, err := remotecache.Write(ctx, e, entries, cacheAccess(req.Registry))
		if err == nil {
			fmt.Fprintf(step, "%d cache record(s), %d layer(s): manifest %s%s\n", sum.Records, sum.Layers, sum.Manifest, note)
		}
		if err != nil && e.IgnoreError {
			step.Done(nil)
			req.Progress.Warn(err.Error() + " (ignore-error=true)")
			continue
		}
		step.Done(err)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// exportEntries are the records an export may carry — the target's chain (min) or every
// stage's (max) — less those it must not: keys bound to this machine's fingerprint key
// (no other machine computes them), and layers not audited clean for the build's secret
// values (layersOK false: every layer; else those the audit found a secret in). note says,
// for the progress output, what was left out and why.
func exportEntries(res *Result, max, layersOK bool) ([]remotecache.Entry, string) {
	var out []remotecache.Entry
	bound, unaudited, leaked := 0, 0, 0
	for _, s := range res.Steps {
		switch {
		case !max && !s.Target:
			continue
		case s.HostBound:
			bound++
			continue
		case s.Layer != nil && !layersOK:
			unaudited++
			continue
		case s.Layer != nil && res.Leaked[digestOf(s.Layer)]:
			leaked++
			continue
		}
		out = append(out, remotecache.Entry{Key: s.Key, Record: s.Record, Layer: s.Layer})
	}
	note := ""
	if bound > 0 {
		note += fmt.Sprintf("\nleft out %d step(s) keyed on a rebuild-on-change secret's fingerprint under this machine's own key: no other machine computes those keys (share one with --fingerprint-key)", bound)
	}
	if unaudited > 0 {
		note += fmt.Sprintf("\nleft out %d step(s) whose layers were not audited for the build's secret values (--audit=off, or every value too short to search)", unaudited)
	}
	if leaked > 0 {
		note += fmt.Sprintf("\nleft out %d step(s) whose layers the audit found a secret in", leaked)
	}
	return out, note
}

func digestOf(l v1.Layer) string {
	d, err := l.Digest()
	if err != nil {
		return ""
	}
	return d.String()
}
