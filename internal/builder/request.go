package builder

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/lint"
	"github.com/hush-build/hush/internal/progress"
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
	// Network is "default" or "host" (the host's network) or "none".
	Network string

	// Secrets are the build's secret values (nil: none); the caller wipes them. SSH are
	// the --ssh agents, their key files read into Secrets.
	Secrets    *secret.Set
	SSH        []sshagent.Spec
	KnownHosts string
	// Audit is --audit: fail (the default), warn or off.
	Audit string

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

// Sink is one place a finished, audited image goes (package sink makes them).
type Sink interface {
	Label() string
	Publish(ctx context.Context, img v1.Image) error
}

// Published is what Run hands back once every sink has the image.
type Published struct {
	Image  v1.Image
	ID     v1.Hash // the config digest (docker's image ID)
	Digest v1.Hash // the manifest digest
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
	agents, closeAgents, err := openAgents(req.SSH, req.Secrets)
	if err != nil {
		return nil, err
	}
	defer closeAgents()
	if req.KnownHosts == "" {
		req.KnownHosts = defaultKnownHosts()
	}
	git := GitAuth{Secrets: req.Secrets, SSH: agents, KnownHosts: req.KnownHosts, RunDir: b.RunDir, Stderr: req.Log}
	in, err := s.loadInputs(ctx, &req, git)
	if err != nil {
		return nil, err
	}
	for _, f := range lint.Check(in.dockerfile, lint.Options{Secrets: req.Secrets.Values(), BuildArgs: req.BuildArgs, Context: in.context}) {
		req.Progress.Warn(f.String())
	}
	if b.Sums != nil {
		b.Sums.Exclude(req.Secrets.Files())
	}
	audited := req.Audit != "off" && searchable(req.Secrets)
	caches := b.loadCaches(ctx, &req)
	res, err := s.build(ctx, Options{Context: in.context, Dockerfile: in.dockerfile, BuildArgs: req.BuildArgs,
		Target: req.Target, NoCache: req.NoCache, Labels: req.Labels, Network: req.Network, Progress: req.Progress,
		Secrets: req.Secrets, SSH: agents, KnownHosts: req.KnownHosts, Mask: req.Secrets.Masks(),
		Registry: req.Registry, Unaudited: audited, CacheFrom: caches, FingerprintKey: req.FingerprintKey})
	if err != nil {
		if res != nil && audited {
			s.auditFailed(ctx, res, req)
		}
		return nil, err
	}
	for _, w := range res.Warnings {
		req.Progress.Warn(w)
	}
	if err := s.selfAudit(ctx, res, AuditOptions{Mode: req.Audit, Secrets: req.Secrets, Progress: req.Progress}); err != nil {
		return nil, err
	}
	// Layers may leave the machine only when audited for the build's values (if any).
	layersOK := audited || len(req.Secrets.Values()) == 0
	img, err := inlineCache(res.Image, &req, res, layersOK)
	if err != nil {
		return nil, err
	}
	pub, err := publish(ctx, img, req.Sinks, req.Progress)
	if err != nil {
		return nil, err
	}
	reportImports(caches, req.Progress)
	if err := b.exportCaches(ctx, &req, res, layersOK); err != nil {
		return nil, err
	}
	return pub, nil
}

// publish writes the audited image to each sink in order.
func publish(ctx context.Context, img v1.Image, sinks []Sink, disp *progress.Display) (*Published, error) {
	p := &Published{Image: img}
	var err error
	if p.ID, err = img.ConfigName(); err != nil {
		return nil, fmt.Errorf("computing image ID: %w", err)
	}
	if p.Digest, err = img.Digest(); err != nil {
		return nil, fmt.Errorf("computing image digest: %w", err)
	}
	for _, s := range sinks {
		step := disp.Start(s.Label())
		err := s.Publish(ctx, img)
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
