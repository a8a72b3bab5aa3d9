package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/bake"
	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/outfile"
	"github.com/hush-build/hush/internal/progress"
	"github.com/hush-build/hush/internal/secret"
	"github.com/hush-build/hush/internal/sink"
)

// buildBake builds every target of d concurrently, in this process, through one builder
// (each Run has its own lease and scratch dir) that shares the store and the cache; one
// progress display shows them all, step names prefixed by target. Every secret value is read once, masked in everything printed, and each
// target's build audits its own. A failing target cancels the others; the command fails
// once they all stopped.
func buildBake(ctx context.Context, g *globals, o *bakeOptions, d *bake.Definition, stdout, stderr io.Writer) (err error) {
	targets, err := planBakeTargets(d, stdout)
	if err != nil {
		return err
	}
	if err := checkEntitlements(targets, o.allow, stderr); err != nil {
		return err
	}
	pool, err := loadBakeSecrets(targets)
	defer func() {
		pool.Wipe()
		for _, bt := range targets {
			bt.secrets.Wipe()
		}
	}()
	if err != nil {
		return err
	}
	masks := unionMasks(pool, targets)
	defer masks.Wipe()
	red := masks.Writer(stderr)
	defer red.Close()
	stderr = red
	defer func() { err = maskError(err, masks) }()
	b, err := openBakeBuilder(g, o, pool)
	if err != nil {
		return err
	}
	defer b.Close()
	results, err := runBakeTargets(ctx, o, b, targets, stdout, stderr)
	if err != nil {
		return err
	}
	return writeBakeMetadata(o.metadataFile, targets, results, masks)
}

// unionMasks masks every value any target holds.
func unionMasks(pool *secret.Set, targets []*bakeTarget) *secret.Masks {
	var vals [][]byte
	for _, v := range pool.Values() {
		vals = append(vals, v)
	}
	for _, bt := range targets {
		for _, v := range bt.secrets.Values() {
			vals = append(vals, v)
		}
	}
	return secret.NewMasks(vals)
}

// openBakeBuilder opens the builder every target runs on. It caches no sum of a file any
// target's secret was read from.
func openBakeBuilder(g *globals, o *bakeOptions, pool *secret.Set) (*builder.Builder, error) {
	b, err := g.openBuilder(o.runtime)
	if err != nil {
		return nil, err
	}
	if b.Sums != nil {
		b.Sums.Exclude(pool.Files())
	}
	return b, nil
}

// runBakeTargets runs the builds concurrently under one display and reports every
// target that failed (not those it cancelled).
func runBakeTargets(ctx context.Context, o *bakeOptions, b *builder.Builder, targets []*bakeTarget, stdout, stderr io.Writer) ([]*builder.Published, error) {
	reg, push, err := o.registry.access(b, stderr)
	if err != nil {
		return nil, err
	}
	fpKey, err := loadFingerprintKey("")
	if err != nil {
		return nil, err
	}
	disp, err := progress.New(stderr, o.progress, progress.WithTerminal(os.Stderr))
	if err != nil {
		return nil, err
	}
	reqs := make([]builder.Request, len(targets))
	for i, bt := range targets {
		ss, _, err := sink.Plan(bt.outs, bt.def.Tags, sink.Env{Store: b.Images, Stdout: stdout, Push: push,
			Load: loadIntoDocker, Warn: disp.Warn})
		if err != nil {
			disp.Close()
			return nil, fmt.Errorf("%s: %w", bt.where(), err)
		}
		reqs[i] = builder.Request{Context: bt.context, Dockerfile: bt.dockerfile, BuildArgs: bt.args, Labels: bt.labels,
			Target: deref(bt.def.Target), NoCache: bt.def.NoCache != nil && *bt.def.NoCache, Network: bt.network,
			Secrets: bt.secrets, SSH: bt.ssh, Audit: o.audit, Registry: reg, Sinks: sinks(ss),
			Progress: disp.Prefixed(bt.name), Log: stderr}
		bt.cache.apply(&reqs[i], sink.PushNames(bt.outs, bt.def.Tags))
		reqs[i].FingerprintKey = fpKey
		for _, w := range bt.warnings {
			reqs[i].Progress.Warn(w)
		}
		if bt.def.DockerfileInline != nil {
			reqs[i].DockerfileInline = []byte(*bt.def.DockerfileInline)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]*builder.Published, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if results[i], errs[i] = b.Run(ctx, reqs[i]); errs[i] != nil {
				cancel() // the others stop, and are waited for
			}
		}()
	}
	wg.Wait()
	err = bakeErrors(targets, errs)
	if cerr := disp.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return results, err
}

// bakeErrors names each target that failed. A target cancelled because another failed
// is not a failure of its own: cancellations are reported only when nothing else failed
// (an interrupt).
func bakeErrors(targets []*bakeTarget, errs []error) error {
	var failed, cancelled []error
	for i, err := range errs {
		if err == nil {
			continue
		}
		e := fmt.Errorf("target %q: %w", targets[i].name, err)
		if errors.Is(err, context.Canceled) {
			cancelled = append(cancelled, e)
		} else {
			failed = append(failed, e)
		}
	}
	if len(failed) > 0 {
		return errors.Join(failed...)
	}
	return errors.Join(cancelled...)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// writeBakeMetadata writes --metadata-file as buildx bake does: one object per target.
func writeBakeMetadata(path string, targets []*bakeTarget, results []*builder.Published, masks *secret.Masks) error {
	if path == "" {
		return nil
	}
	md := map[string]any{}
	for i, bt := range targets {
		pub := results[i]
		if pub == nil {
			continue
		}
		md[bt.name] = imageMetadata(pub.ID, pub.Digest, bt.def.Tags)
	}
	data, _ := json.MarshalIndent(md, "", "  ")
	if err := outfile.Write(path, 0o644, writeBytes(masks.Redact(data))); err != nil {
		return fmt.Errorf("--metadata-file: %w", err)
	}
	return nil
}

// imageMetadata is buildx's build result metadata of a bake target's image.
func imageMetadata(id, digest v1.Hash, tags []string) map[string]any {
	md := map[string]any{"containerimage.config.digest": id.String(), "containerimage.digest": digest.String()}
	if len(tags) > 0 {
		var names []string
		for _, t := range tags {
			n, _ := image.NormalizeName(t)
			names = append(names, n)
		}
		md["image.name"] = strings.Join(names, ",")
	}
	return md
}
