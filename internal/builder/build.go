package builder

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hush-build/hush/internal/audit"
	"github.com/hush-build/hush/internal/buildcontext"
	"github.com/hush-build/hush/internal/cache"
	"github.com/hush-build/hush/internal/dockerfile"
	"github.com/hush-build/hush/internal/executor"
	"github.com/hush-build/hush/internal/gc"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/lease"
	"github.com/hush-build/hush/internal/plan"
	"github.com/hush-build/hush/internal/progress"
	"github.com/hush-build/hush/internal/provenance"
	"github.com/hush-build/hush/internal/remotecache"
	"github.com/hush-build/hush/internal/scratch"
	"github.com/hush-build/hush/internal/secret"
	"github.com/hush-build/hush/internal/snapshot"
)

// Options describe one build.
type Options struct {
	Context    *buildcontext.Context
	Dockerfile *dockerfile.File
	BuildArgs  map[string]string
	Target     string
	NoCache    bool
	// NoCacheFilter names stages (--no-cache-filter) whose steps skip the cache.
	NoCacheFilter []string
	Labels        map[string]string
	Network       string
	// Contexts are the named build contexts (--build-context), by ContextName.
	Contexts map[string]NamedContext
	// Limits and Allow are --add-host, --ulimit, --shm-size and --allow.
	Limits   RunLimits
	Allow    Entitlements
	Progress *progress.Display
	// Secrets and SSH are the --secret values and --ssh agents; either may be nil.
	Secrets Secrets
	SSH     map[string]SSHSource
	// KnownHosts is the known_hosts file ssh Git sources are checked against.
	KnownHosts string
	// Mask holds the secret values masked in step output (nil: none).
	Mask *secret.Masks
	// Registry is how FROM pulls images the store lacks; with Pull, every image.
	Registry Registry
	Pull     bool
	// Platform is the target platform (--platform; zero: the host's). MultiPlatform says
	// the build is one of several platforms' (progress names then carry the platform).
	Platform      ocispecs.Platform
	MultiPlatform bool
	// contextShown makes "[internal] load build context" show once for all platforms.
	contextShown *sync.Once
	// Unaudited journals every layer the build commits until its audit clears it (the
	// build has secret values to audit for): a build killed or failed before that leaves
	// layers no later build reuses, and the next sweep purges.
	Unaudited bool
	// CacheFrom are imported caches a step missing from the local cache is looked up in.
	CacheFrom []*remotecache.Source
	// FingerprintKey keys rebuild-on-change fingerprints; nil: the state dir's own key (the
	// steps they key are then bound to this machine and never exported).
	FingerprintKey *secret.FingerprintKey
}

// Builder holds the stores and runtime shared by builds. It is safe for concurrent Runs:
// each Run has a session of its own (scratch dir, lease), while the stores, the cache, the
// ledger and the journal are shared, as they are with other hush processes.
type Builder struct {
	Images    *image.Store
	Snapshots *snapshot.Store
	Cache     *cache.Store
	Runtime   executor.Runtime
	// TmpDir is the builder's own scratch dir, for work outside a Run (RunImage's callers'
	// volumes); RunDir is a tmpfs for scripts.
	TmpDir string
	RunDir string
	// CacheMountDir holds RUN --mount=type=cache directories.
	CacheMountDir string
	// Fingerprints keys the content fingerprints of rebuild-on-change secrets and of the
	// values the audit ledger records.
	Fingerprints *secret.FingerprintKey
	// Audited records which layers were audited clean against which values; nil: none.
	Audited *audit.Ledger
	// ledgerKey keys the ledger's value fingerprints (on a tmpfs only); nil: no ledger.
	ledgerKey *secret.FingerprintKey
	// Sums caches context file sums across builds; nil disables it.
	Sums *SumCache
	// Lease holds what work outside a Run (RunImage, a caller's pulls) uses, so that
	// removing an image, a purge or a prune does not delete it under it; a Run holds what
	// it uses with its session's own lease.
	Lease *lease.Lease

	leases    *lease.Leases
	scratch   *scratch.Dir // TmpDir, removed by Close
	unaudited *unaudited   // layers built with secret values, until audited
	mounts    mounter      // overlayfs; plain copies in the package's tests
	root      string       // the state dir
	gc        *gc.Policy   // collected after each Run; nil: never
}

// Result is the built image.
type Result struct {
	Image v1.Image
	// BaseLayers is how many of the image's bottom layers came from a base image.
	BaseLayers int
	// Layers is every distinct layer any stage of the build produced, reused from the cache
	// or started from, with where it came from: the self-audit reads them all, since a
	// stage the target never copies from still leaves its layers in the cache.
	Layers []LayerOrigin
	// Warnings collected during the build (unused build args, parser warnings).
	Warnings []string
	// Attestation is the build's provenance (nil without --provenance), made before the
	// self-audit, which searches it.
	Attestation *image.Attestation
	// MetadataProvenance is the provenance buildx writes into --metadata-file (nil: none).
	MetadataProvenance []byte
	plan               *plan.Plan
	materials          []provenance.Material
	// Steps are the cache records the build ran or reused, for a cache export: the target's
	// chain first (Target set), then every other stage's.
	Steps []StepRecord
	// Leaked are the layers (digests) the self-audit found a secret in and kept
	// (--audit=warn): never exported.
	Leaked map[string]bool
}

// StepRecord is one step's cache record as a build used it.
type StepRecord struct {
	Key    string
	Record *cache.Record
	Layer  v1.Layer // nil: the step changed nothing
	// Target: the step is in the target stage's chain (a mode=min export's).
	Target bool
	// HostBound: the key holds this machine's fingerprint key (a rebuild-on-change secret
	// on its chain), so no other machine computes it.
	HostBound bool
}

// LayerOrigin names where a layer of a build came from.
type LayerOrigin struct {
	Layer v1.Layer
	// Stage is the stage's name (or index); Step is "Dockerfile:LINE INSTRUCTION", or
	// "FROM <image>" for a base image's layers.
	Stage, Step string
}

// stageResult is the state a finished stage hands to the stages that read it.
type stageResult struct {
	cfg     *v1.ConfigFile
	layers  []v1.Layer
	history []v1.History
	key     string
	// baseLayers is how many of layers came from a base image (FROM, through stages).
	baseLayers int
	// display names the image a FROM resolved to, for its progress step ("" for a
	// stage or scratch).
	display string
	steps   []StepRecord // the records of the steps from the first stage of the chain
	// state is a built stage's final plan state (nil for an image); parent is the state
	// of the stage a stage starts from.
	state, parent *plan.State
}

type future struct {
	done chan struct{}
	res  *stageResult
	err  error
}

type run struct {
	b        *Builder
	s        *session
	opts     Options
	plan     *plan.Plan
	futures  map[*plan.Stage]*future
	multi    bool
	imgMu    sync.Mutex
	images   map[string]*stageResult // resolved image refs (FROM, --from)
	resolver *image.Resolver         // this build's: its registry access, its session's lease
	// origins records where each layer (by digest) came from, first seen first.
	originMu sync.Mutex
	origins  []LayerOrigin
	seen     map[v1.Hash]bool
	produced map[string]bool // layers this build committed (digests), under originMu
	ctxs     namedContexts
	mats     materials       // what the build resolved and fetched, for its provenance
	ctxShown sync.Once       // "[internal] load build context" shown
	bound    map[string]bool // keys bound to this machine (StepRecord.HostBound), under originMu
}

// build runs the build and returns the target stage's image. Nothing is stored or
// published here; the caller decides where the image goes. On a failure the Result (with
// the error) still lists the layers built so far, for the caller to audit.
func (s *session) build(ctx context.Context, opts Options) (*Result, error) {
	b := s.b
	if err := checkContexts(opts.Contexts); err != nil {
		return nil, err
	}
	replaced := map[string]bool{}
	for name := range opts.Contexts {
		replaced[name] = true
	}
	p, err := plan.New(opts.Dockerfile, plan.Options{BuildArgs: opts.BuildArgs, Target: opts.Target, Replaced: replaced,
		Platform: opts.Platform})
	if err != nil {
		return nil, err
	}
	// --network host grants network.host, as buildx does; the default network is the
	// host's too (rootless: a namespace of the Run's own), but RUN --network=host still
	// asks for the grant.
	opts.Allow.NetworkHost = opts.Allow.NetworkHost || opts.Network == "host"
	if err := checkEntitlements(p, opts); err != nil {
		return nil, err
	}
	if opts.Network == "" {
		opts.Network = "host"
		if privateDefaultNet() {
			opts.Network = "default" // the Run's own namespace (stepNet)
		}
	}
	if err := checkRequired(p, opts); err != nil {
		return nil, err
	}
	r := &run{b: b, s: s, opts: opts, plan: p, futures: map[*plan.Stage]*future{}, images: map[string]*stageResult{},
		multi: len(p.Needed()) > 1, seen: map[v1.Hash]bool{}, produced: map[string]bool{}, bound: map[string]bool{},
		resolver: b.resolver(opts.Registry, s.lease, opts.Pull)}
	if b.Sums != nil {
		defer b.Sums.Save()
	}
	if err := r.buildStages(ctx); err != nil {
		return &Result{Layers: r.layers()}, err
	}
	img, err := assemble(r.futures[p.Target].res, opts.Labels)
	if err != nil {
		return &Result{Layers: r.layers()}, err
	}
	res := &Result{Image: img, Layers: r.layers(), Steps: r.steps(), BaseLayers: r.futures[p.Target].res.baseLayers,
		plan: p, materials: r.mats.list}
	for _, w := range opts.Dockerfile.Warnings {
		res.Warnings = append(res.Warnings, w.String())
	}
	if unused := p.UnusedBuildArgs(); len(unused) > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("one or more build-args %v were not consumed", unused))
	}
	return res, nil
}

// buildStages builds every stage the target needs, concurrently, and reports the failure
// that cancelled the build rather than the stages it cancelled.
func (r *run) buildStages(ctx context.Context) error {
	for _, st := range r.plan.Needed() {
		r.futures[st] = &future{done: make(chan struct{})}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for st, f := range r.futures {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(f.done)
			f.res, f.err = r.buildStage(ctx, st)
			if f.err != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	var firstErr error
	for _, st := range r.plan.Needed() {
		err := r.futures[st].err
		if err == nil || errors.Is(err, errDependency) {
			continue
		}
		if !errors.Is(err, context.Canceled) {
			return err
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// layers is what the build met so far, for the audit.
func (r *run) layers() []LayerOrigin {
	r.originMu.Lock()
	defer r.originMu.Unlock()
	return append([]LayerOrigin(nil), r.origins...)
}

var errDependency = errors.New("a stage this one needs failed")

// wait returns the result of a stage this one depends on.
func (r *run) wait(ctx context.Context, st *plan.Stage) (*stageResult, error) {
	f, ok := r.futures[st]
	if !ok {
		return nil, fmt.Errorf("internal error: stage %s was not planned", st)
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if f.err != nil {
		return nil, errDependency
	}
	return f.res, nil
}

// platformImage is the result as the sinks publish it: the image, its platform (from its
// config) and its attestations.
func (res *Result) platformImage() (image.PlatformImage, error) {
	cf, err := res.Image.ConfigFile()
	if err != nil {
		return image.PlatformImage{}, fmt.Errorf("reading image config: %w", err)
	}
	p := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	pi := image.PlatformImage{Image: res.Image, Platform: p, BaseLayers: res.BaseLayers}
	if res.Attestation != nil {
		pi.Attestations = []image.Attestation{*res.Attestation}
	}
	return pi, nil
}

// assemble writes the final config and layers into an OCI image.
func assemble(s *stageResult, labels map[string]string) (v1.Image, error) {
	cf := s.cfg.DeepCopy()
	if len(labels) > 0 && cf.Config.Labels == nil {
		cf.Config.Labels = map[string]string{}
	}
	for k, v := range labels {
		cf.Config.Labels[k] = v
	}
	cf.History = s.history
	cf.Created = v1.Time{Time: s.lastTime().UTC()}
	cf.RootFS = v1.RootFS{Type: "layers"}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	adds := make([]mutate.Addendum, 0, len(s.layers))
	for _, l := range s.layers {
		d, err := l.DiffID()
		if err != nil {
			return nil, fmt.Errorf("reading layer diffID: %w", err)
		}
		cf.RootFS.DiffIDs = append(cf.RootFS.DiffIDs, d)
		adds = append(adds, mutate.Addendum{Layer: l, MediaType: ociLayerType(l)})
	}
	img, err := mutate.Append(img, adds...)
	if err != nil {
		return nil, fmt.Errorf("assembling image: %w", err)
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("assembling image config: %w", err)
	}
	return img, nil
}

func ociLayerType(l v1.Layer) types.MediaType {
	mt, err := l.MediaType()
	if err != nil {
		return types.OCILayer
	}
	switch mt {
	case types.DockerLayer:
		return types.OCILayer
	case types.DockerUncompressedLayer:
		return types.OCIUncompressedLayer
	case types.DockerForeignLayer:
		return types.OCIRestrictedLayer
	}
	return mt
}

func (b *Builder) scriptDir() string { return filepath.Join(b.RunDir, "scripts") }

// origin records where layer came from, the first time the build meets it.
func (r *run) origin(l v1.Layer, stage, step string) {
	d, err := l.Digest()
	if err != nil {
		return
	}
	r.originMu.Lock()
	defer r.originMu.Unlock()
	if !r.seen[d] {
		r.seen[d] = true
		r.origins = append(r.origins, LayerOrigin{Layer: l, Stage: stage, Step: step})
	}
}

// resolver finds images for one build: in the store, else from a registry with reg (for
// every name with pull, buildx's --pull); l holds what it resolves.
func (b *Builder) resolver(reg Registry, l *lease.Lease, pull bool) *image.Resolver {
	return &image.Resolver{Store: b.Images, Lease: l, Keychain: reg.Keychain, Transport: reg.Transport,
		Insecure: reg.Insecure, Pull: pull}
}
