package builder

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/lint"
	"github.com/hush-build/hush/internal/plan"
	"github.com/hush-build/hush/internal/progress"
	"github.com/hush-build/hush/internal/provenance"
	"github.com/hush-build/hush/internal/remotecache"
	"github.com/hush-build/hush/internal/secret"
	"github.com/hush-build/hush/internal/sshagent"
)

// Request is one build: what to build, from which inputs, with which secrets, and where
// the image goes once it has been built and audited.
type Request struct {
	// Context is a directory, a Git URL, or "-" (the Dockerfile comes on Stdin and the
	// context is empty).
	Context string
	// Dockerfile is its path ("" means CONTEXT/Dockerfile; "-" reads Stdin).
	Dockerfile string
	// DockerfileInline, when set, is the Dockerfile itself (bake's dockerfile-inline).
	DockerfileInline []byte
	Stdin            io.Reader

	BuildArgs map[string]string
	Labels    map[string]string
	Target    string
	NoCache   bool
	// NoCacheFilter names the stages whose steps skip the cache (--no-cache-filter).
	NoCacheFilter []string
	// Pull resolves every FROM image from its registry, never from the store (--pull).
	Pull bool
	// Network is "default" or "host" (the host's network) or "none".
	Network string
	// Contexts are the named build contexts (--build-context), by ContextName.
	Contexts map[string]NamedContext
	// Limits are --add-host, --ulimit and --shm-size; Allow the --allow entitlements.
	Limits RunLimits
	Allow  Entitlements

	// Secrets are the build's secret values (nil: none); the caller wipes them. SSH are
	// the --ssh agents, their key files read into Secrets.
	Secrets    *secret.Set
	SSH        []sshagent.Spec
	KnownHosts string
	// Audit is --audit: fail (the default), warn or off.
	Audit string
	// Provenance, when set, attaches the build's SLSA provenance (--provenance).
	// PrivateArgs are build args never written into it (an encrypted --build-arg-file's).
	Provenance  *provenance.Options
	PrivateArgs map[string]bool
	// Platforms are --platform's (none: the host's); several make a multi-platform image.
	Platforms []ocispecs.Platform
	// MetadataProvenance is buildx's BUILDX_METADATA_PROVENANCE for --metadata-file: "min",
	// "max", or "" for none.
	MetadataProvenance string

	// Registry is how FROM pulls images the store lacks, and how caches are imported and
	// exported (the push path's credentials).
	Registry Registry
	// CacheFrom are caches (--cache-from) a step the local cache lacks is looked up in;
	// CacheTo are where the build's cache records go (--cache-to) once the image is audited
	// and published.
	CacheFrom []remotecache.Import
	CacheTo   []remotecache.Export
	// FingerprintKey, when set, keys rebuild-on-change fingerprints instead of the state
	// dir's own key: machines sharing it compute the same keys, so those steps export.
	FingerprintKey *secret.FingerprintKey
	// Sinks receive the image, in order, only after the self-audit passed.
	Sinks    []Sink
	Progress *progress.Display
	// Log receives what fetching a Git context prints (masked by the caller).
	Log io.Writer
}

// Registry is how a build reaches registries.
type Registry struct {
	Keychain  authn.Keychain
	Transport http.RoundTripper
	Insecure  bool
}

// Sink is one place a finished, audited image goes (package sink makes them): it writes
// the build's artifact as its output asks.
type Sink interface {
	Label() string
	Publish(ctx context.Context, a image.Artifact) error
}

// statusSink is a Sink that reports its finished sub-tasks (BuildKit's statuses, "naming
// to NAME") as it publishes.
type statusSink interface {
	PublishStatus(ctx context.Context, a image.Artifact, status func(string)) error
}

// Published is what Run hands back once every sink has the image.
type Published struct {
	// MetadataProvenance are the metadata file's buildx.build.provenance keys (one per
	// platform, buildx.build.provenance/PLATFORM, in a multi-platform build).
	MetadataProvenance map[string][]byte
	Image              v1.Image
	ID                 v1.Hash // the config digest (docker's image ID)
	Digest             v1.Hash // the manifest digest
}

// Run is the whole build: it opens the inputs, lints them, builds every stage the target
// needs, audits every layer of the build and hush's state for the secret values, and only
// then writes the image to each sink. A failure anywhere publishes nothing. Several Runs
// of one Builder may go at once: each has its own session (scratch dir and lease).
func (b *Builder) Run(ctx context.Context, req Request) (*Published, error) {
	s, err := b.newSession()
	if err != nil {
		return nil, err
	}
	pub, err := s.run(ctx, req)
	if cerr := s.close(); cerr != nil {
		req.Progress.Warn("cleaning up after the build: " + cerr.Error())
	}
	if gerr := b.collectGarbage(); gerr != nil {
		req.Progress.Warn("collecting garbage: " + gerr.Error())
	}
	return pub, err
}

// run is Run in session s.
func (s *session) run(ctx context.Context, req Request) (*Published, error) {
	b := s.b
	if req.Secrets == nil {
		req.Secrets = secret.NewSet()
	}
	for _, id := range secret.ShortIDs(req.Secrets.Values()) {
		req.Progress.Warn(fmt.Sprintf("secret %q is shorter than %d bytes: too short to audit or mask reliably; it is masked only as a whole word",
			id, secret.MinSearchable))
	}
	started := time.Now()
	in, agents, closeAgents, err := s.open(ctx, &req)
	if err != nil {
		return nil, err
	}
	defer closeAgents()
	showInputs(req.Progress, in)
	for _, f := range lint.Check(in.dockerfile, lint.Options{Secrets: req.Secrets.Values(), BuildArgs: req.BuildArgs, Context: in.context}) {
		req.Progress.Warn(f.String())
	}
	if b.Sums != nil {
		b.Sums.Exclude(req.Secrets.Files())
	}
	audited := req.Audit != "off" && searchable(req.Secrets)
	plats := req.Platforms
	if len(plats) == 0 {
		plats = []ocispecs.Platform{{}}
	}
	pb := platformBuild{in: in, agents: agents, audited: audited, multi: len(plats) > 1, started: started,
		warned: map[string]bool{}, contextShown: &sync.Once{}, caches: b.loadCaches(ctx, &req)}
	var results []*Result
	for _, p := range plats {
		res, err := s.buildPlatform(ctx, req, &pb, p)
		if err != nil {
			return nil, err
		}
		results = append(results, res)
	}
	return s.finish(ctx, req, &pb, results)
}

// finish publishes the audited results and exports their cache records: layers may leave
// the machine only when audited for the build's values (if any).
func (s *session) finish(ctx context.Context, req Request, pb *platformBuild, results []*Result) (*Published, error) {
	layersOK := pb.audited || len(req.Secrets.Values()) == 0
	for _, res := range results {
		img, err := inlineCache(res.Image, &req, res, layersOK)
		if err != nil {
			return nil, err
		}
		res.Image = img
	}
	pub, err := publish(ctx, results, pb.multi, req.Sinks, req.Progress)
	if err != nil {
		return nil, err
	}
	reportImports(pb.caches, req.Progress)
	if err := s.b.exportCaches(ctx, &req, allSteps(results), layersOK); err != nil {
		return nil, err
	}
	return pub, nil
}

// allSteps is one Result holding every platform's cache records (and leaked layers), for
// a cache export.
func allSteps(results []*Result) *Result {
	if len(results) == 1 {
		return results[0]
	}
	out := &Result{Leaked: map[string]bool{}}
	for _, r := range results {
		out.Steps = append(out.Steps, r.Steps...)
		for d := range r.Leaked {
			out.Leaked[d] = true
		}
	}
	return out
}

// platformBuild is what the builds of a request's platforms share.
type platformBuild struct {
	in             *inputs
	agents         map[string]SSHSource
	audited, multi bool
	started        time.Time
	warned         map[string]bool // warnings shown once for all platforms
	contextShown   *sync.Once
	caches         []*remotecache.Source
}

// buildPlatform builds the request for one platform (zero: the host's), adds its
// provenance and audits it.
func (s *session) buildPlatform(ctx context.Context, req Request, pb *platformBuild, p ocispecs.Platform) (*Result, error) {
	if p.OS != "" && !canRun(p) {
		req.Progress.Warn(fmt.Sprintf("no emulator for %s is registered with binfmt_misc: its RUN steps fail with \"exec format error\" (install qemu-user-static)",
			plan.FormatPlatform(p)))
	}
	in := pb.in
	res, err := s.build(ctx, Options{Context: in.context, Dockerfile: in.dockerfile, BuildArgs: req.BuildArgs,
		Target: req.Target, NoCache: req.NoCache, NoCacheFilter: req.NoCacheFilter, Labels: req.Labels,
		Network: req.Network, Limits: req.Limits, Allow: req.Allow, Pull: req.Pull, Progress: req.Progress,
		Contexts: req.Contexts, Platform: p, MultiPlatform: pb.multi, contextShown: pb.contextShown,
		Secrets: req.Secrets, SSH: pb.agents, KnownHosts: req.KnownHosts, Mask: req.Secrets.Masks(),
		Registry: req.Registry, Unaudited: pb.audited, CacheFrom: pb.caches, FingerprintKey: req.FingerprintKey})
	if err != nil {
		if res != nil && pb.audited {
			s.auditFailed(ctx, res, req)
		}
		return nil, err
	}
	for _, w := range res.Warnings {
		if !pb.warned[w] {
			pb.warned[w] = true
			req.Progress.Warn(w)
		}
	}
	if in.gitURL != "" && in.gitCommit != "" {
		res.materials = append(res.materials, gitMaterial(in.gitURL, in.gitCommit))
	}
	if err := s.b.addProvenance(req, in, res, pb.started); err != nil {
		return nil, err
	}
	if err := s.selfAudit(ctx, res, AuditOptions{Mode: req.Audit, Secrets: req.Secrets, Progress: req.Progress}); err != nil {
		return nil, err
	}
	return res, nil
}

// open opens a request's inputs: its --ssh agents, then its context and Dockerfile
// (fetching a Git context with them into the session's scratch dir).
func (s *session) open(ctx context.Context, req *Request) (*inputs, map[string]SSHSource, func(), error) {
	if req.Secrets == nil {
		req.Secrets = secret.NewSet()
	}
	agents, closeAgents, err := openAgents(req.SSH, req.Secrets)
	if err != nil {
		return nil, nil, nil, err
	}
	if req.KnownHosts == "" {
		req.KnownHosts = defaultKnownHosts()
	}
	git := GitAuth{Secrets: req.Secrets, SSH: agents, KnownHosts: req.KnownHosts, RunDir: s.b.RunDir, Stderr: req.Log}
	in, err := s.loadInputs(ctx, req, git)
	if err != nil {
		closeAgents()
		return nil, nil, nil, err
	}
	return in, agents, closeAgents, nil
}

// publish writes the audited images (one per platform) to each sink in order.
func publish(ctx context.Context, results []*Result, multi bool, sinks []Sink, disp *progress.Display) (*Published, error) {
	img := results[0].Image
	p := &Published{Image: img, MetadataProvenance: map[string][]byte{}}
	var err error
	if p.ID, err = img.ConfigName(); err != nil {
		return nil, fmt.Errorf("computing image ID: %w", err)
	}
	if p.Digest, err = img.Digest(); err != nil {
		return nil, fmt.Errorf("computing image digest: %w", err)
	}
	a := image.Artifact{Multi: multi}
	for _, res := range results {
		pi, err := res.platformImage()
		if err != nil {
			return nil, err
		}
		a.Images = append(a.Images, pi)
		if res.MetadataProvenance != nil {
			key := "buildx.build.provenance"
			if multi {
				key += "/" + image.FormatPlatform(pi.Platform)
			}
			p.MetadataProvenance[key] = res.MetadataProvenance
		}
	}
	for _, s := range sinks {
		step := disp.Start(s.Label())
		var err error
		if ss, ok := s.(statusSink); ok {
			err = ss.PublishStatus(ctx, a, func(id string) { step.Status(id, 0, 0) })
		} else {
			err = s.Publish(ctx, a)
		}
		step.Done(err)
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

// openAgents opens every --ssh agent from the key files the secret set read (LoadSecrets).
func openAgents(specs []sshagent.Spec, secrets *secret.Set) (map[string]SSHSource, func(), error) {
	out := map[string]SSHSource{}
	var opened []*sshagent.Source
	closeAll := func() {
		for _, s := range opened {
			s.Close()
		}
	}
	for _, sp := range specs {
		read := func(path string) ([]byte, error) { return secrets.KeyFile(sp.ID, path) }
		src, err := sshagent.Open(sp, os.Getenv, read)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("--ssh %s: %w", sp.ID, err)
		}
		opened = append(opened, src)
		out[sp.ID] = src
	}
	return out, closeAll, nil
}

// defaultKnownHosts is ~/.ssh/known_hosts when it exists.
func defaultKnownHosts() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	p := filepath.Join(home, ".ssh", "known_hosts")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// SecretInputs are where a command's secret values come from.
type SecretInputs struct {
	Specs    []secret.Spec   // --secret
	EnvFiles []string        // --secret-env-file, plain or age-encrypted
	SSH      []sshagent.Spec // --ssh: their key files are read once, into the set
}

// LoadSecrets reads every secret value of a command once, into one set that the caller
// wipes. Load it before making anything that masks output from it.
func LoadSecrets(in SecretInputs) (*secret.Set, error) {
	set, err := secret.Load(in.Specs, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	for _, f := range in.EnvFiles {
		if err := set.AddEnvFile(f, os.LookupEnv); err != nil {
			set.Wipe()
			return nil, fmt.Errorf("--secret-env-file: %w", err)
		}
	}
	for _, sp := range in.SSH {
		if err := set.AddKeyFiles(sp.ID, sp.Paths); err != nil {
			set.Wipe()
			return nil, err
		}
	}
	return set, nil
}

// auditFailed audits what a failed (or interrupted) build committed before it stopped, so
// a layer that holds a secret is purged now rather than left for a later build to reuse;
// the build's own error is what the caller reports, the audit's findings are warned about.
func (s *session) auditFailed(ctx context.Context, res *Result, req Request) {
	ctx = context.WithoutCancel(ctx)
	if err := s.selfAudit(ctx, res, AuditOptions{Mode: "fail", Secrets: req.Secrets, Progress: req.Progress}); err != nil {
		req.Progress.Warn("the failed build's layers: " + err.Error())
	}
}

// searchable reports a set holding a value long enough to audit for.
func searchable(s *secret.Set) bool {
	vals := s.Values()
	return len(secret.ShortIDs(vals)) < len(vals)
}
