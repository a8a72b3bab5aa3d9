package builder

import (
	"crypto/rand"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/hush-build/hush/internal/gitsource"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/plan"
	"github.com/hush-build/hush/internal/provenance"
	"github.com/hush-build/hush/internal/secret"
)

// materials records what a build resolved and fetched, for its provenance.
type materials struct {
	mu   sync.Mutex
	list []provenance.Material
	seen map[string]bool
}

func (m *materials) add(uri, digest string) {
	alg, hex, ok := strings.Cut(digest, ":")
	if !ok {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[string]bool{}
	}
	if m.seen[uri] {
		return
	}
	m.seen[uri] = true
	m.list = append(m.list, provenance.Material{URI: uri, Digest: map[string]string{alg: hex}})
}

// addImage records a base image by its purl and manifest digest.
func (m *materials) addImage(ref string, img v1.Image) {
	norm, err := image.NormalizeName(ref)
	if err != nil {
		return // an image ID: not a name a purl can carry
	}
	d, err := img.Digest()
	cf, cerr := img.ConfigFile()
	if err != nil || cerr != nil {
		return
	}
	p := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	m.add(provenance.ImagePURL(norm, p), d.String())
}

// addGit records a Git source by its URL (credentials removed) and commit.
func (m *materials) addGit(remote, commit string) {
	alg := "sha1"
	if len(commit) == 64 {
		alg = "sha256"
	}
	m.add(gitsource.Redact(remote), alg+":"+commit)
}

// addProvenance makes the build's provenance — the attestation (--provenance) and
// buildx's metadata-file provenance — after the build and before its self-audit, which
// searches both.
func (b *Builder) addProvenance(req Request, in *inputs, r *Result, started time.Time) error {
	c := b.capture(req, in, r, started)
	if req.Provenance != nil {
		pt, pred, err := provenance.Predicate(c, *req.Provenance)
		if err != nil {
			return err
		}
		r.Attestation = &image.Attestation{PredicateType: pt, Predicate: pred,
			Path: req.Provenance.Filename, InlineOnly: req.Provenance.InlineOnly}
	}
	if req.MetadataProvenance != "" {
		md, err := provenance.Metadata(c, req.MetadataProvenance)
		if err != nil {
			return err
		}
		r.MetadataProvenance = md
	}
	return nil
}

// capture is what the build's provenance records.
func (b *Builder) capture(req Request, in *inputs, r *Result, started time.Time) provenance.Capture {
	c := provenance.Capture{Args: frontendArgs(req, in), Private: map[string]bool{},
		BuilderPlatform: plan.FormatPlatform(r.plan.BuildPlatform), TargetPlatform: plan.FormatPlatform(r.plan.Platform),
		InvocationID: NewID(), Started: started, Done: time.Now()}
	for k, v := range c.Args {
		if leaks(req.Secrets, v) {
			c.Private[k] = true
		}
	}
	for k := range req.PrivateArgs {
		c.Private["build-arg:"+k] = true
	}
	if in.gitURL == "" {
		c.Locals = []string{"context", "dockerfile"}
	}
	c.Secrets, c.SSH, c.NetworkAccess = mountsOf(r.plan, req.Network)
	c.Materials = r.materials
	return c
}

// leaks reports a value that holds a secret value, in any encoding hush searches for.
func leaks(s *secret.Set, v string) bool {
	return s != nil && string(s.Redact([]byte(v))) != v
}

// frontendArgs are BuildKit's request attributes for the build, as buildx sets them.
func frontendArgs(req Request, in *inputs) map[string]string {
	args := map[string]string{"filename": in.dockerfile.Name}
	for k, v := range req.BuildArgs {
		args["build-arg:"+k] = v
	}
	for k, v := range req.Labels {
		args["label:"+k] = v
	}
	if req.Target != "" {
		args["target"] = req.Target
	}
	if len(req.Platforms) > 0 {
		var ps []string
		for _, p := range req.Platforms {
			ps = append(ps, plan.FormatPlatform(p))
		}
		args["platform"] = strings.Join(ps, ",")
	}
	if in.gitURL != "" {
		args["context"] = gitsource.Redact(in.gitURL)
	}
	if req.NoCache {
		args["no-cache"] = ""
	} else if len(req.NoCacheFilter) > 0 {
		args["no-cache"] = strings.Join(req.NoCacheFilter, ",")
	}
	if req.Network == "host" || req.Network == "none" {
		args["force-network-mode"] = req.Network
	}
	var hosts []string
	for _, h := range req.Limits.ExtraHosts {
		hosts = append(hosts, h.Name+"="+h.IP)
	}
	if len(hosts) > 0 {
		args["add-hosts"] = strings.Join(hosts, ",")
	}
	if req.Limits.ShmSize > 0 {
		args["shm-size"] = strconv.FormatInt(req.Limits.ShmSize, 10)
	}
	return args
}

// mountsOf lists the secret and SSH ids the target's RUN steps mount, and whether a step
// reaches the network.
func mountsOf(p *plan.Plan, network string) (secrets, ssh []provenance.Mount, net bool) {
	seen := map[string]bool{}
	_ = neededSteps(p, func(step *plan.Step) {
		if step.Kind != plan.Run {
			return
		}
		n := step.Network
		if n == "" || n == "default" {
			n = network
		}
		net = net || n != "none"
		for _, m := range step.Mounts {
			switch m.Type {
			case instructions.MountTypeSecret:
				if id := secretID(m); !seen["s:"+id] {
					seen["s:"+id] = true
					secrets = append(secrets, provenance.Mount{ID: id, Optional: !m.Required})
				}
			case instructions.MountTypeSSH:
				if id := sshID(m); !seen["h:"+id] {
					seen["h:"+id] = true
					ssh = append(ssh, provenance.Mount{ID: id, Optional: !m.Required})
				}
			}
		}
	})
	sort.Slice(secrets, func(i, j int) bool { return secrets[i].ID < secrets[j].ID })
	return secrets, ssh, net
}

// NewID is a random id in BuildKit's form (its identity.NewID: 25 base-36 characters),
// for build references and provenance invocation ids.
func NewID() string {
	n, err := rand.Int(rand.Reader, new(big.Int).Exp(big.NewInt(36), big.NewInt(25), nil))
	if err != nil {
		return strings.Repeat("0", 25)
	}
	t := n.Text(36)
	return strings.Repeat("0", 25-len(t)) + t
}

// gitMaterial is a Git context's material.
func gitMaterial(url, commit string) provenance.Material {
	var m materials
	m.addGit(url, commit)
	return m.list[0]
}

// provenances are the provenance documents the build made, by name, for the self-audit.
func (r *Result) provenances() map[string][]byte {
	out := map[string][]byte{}
	if r.Attestation != nil {
		out["provenance attestation"] = r.Attestation.Predicate
	}
	if r.MetadataProvenance != nil {
		out["metadata-file provenance"] = r.MetadataProvenance
	}
	return out
}
