package provenance

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"
)

// Predicate types and build types, BuildKit's.
const (
	PredicateV1  = "https://slsa.dev/provenance/v1"
	PredicateV02 = "https://slsa.dev/provenance/v0.2"
	buildTypeV1  = "https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md"
	buildTypeV02 = "https://mobyproject.org/buildkit@v1"
)

// Options are a provenance attestation's attributes, BuildKit's: mode min (default max),
// the SLSA version (v1, or v0.2), builder-id (runDetails.builder.id), filename (the file
// a local or tar output writes, provenance.json), inline-only (only image outputs carry
// it) and reproducible (a claim written into its metadata).
type Options struct {
	Mode, Version, BuilderID, Filename string
	InlineOnly, Reproducible           bool
}

// Capture is what a build records for its provenance.
type Capture struct {
	// Args are the frontend's request attributes: build-arg:K, label:K, target, filename,
	// context (a remote context's URL), …, as BuildKit's request has them.
	Args map[string]string
	// Private are the keys of Args that must never be written (build args from an
	// encrypted --build-arg-file, values holding a secret).
	Private map[string]bool
	// Secrets and SSH are the ids the build mounted.
	Secrets, SSH []Mount
	// Locals are the local sources (the context and Dockerfile directories).
	Locals []string
	// Materials are the images, Git commits and downloads the build used.
	Materials []Material
	// NetworkAccess says a step ran with the network.
	NetworkAccess bool
	InvocationID  string
	Started, Done time.Time
	// BuilderPlatform is os/arch of the machine; TargetPlatform the built image's.
	BuilderPlatform, TargetPlatform string
}

// Mount is a secret or SSH id a build used.
type Mount struct {
	ID       string `json:"id"`
	Optional bool   `json:"optional,omitempty"`
}

// Material is one resolved dependency: a purl or URL and its digest.
type Material struct {
	URI    string            `json:"uri,omitempty"`
	Digest map[string]string `json:"digest,omitempty"`
}

// The SLSA v1 predicate in BuildKit's shape.
type (
	predicateV1 struct {
		BuildDefinition buildDefinition `json:"buildDefinition"`
		RunDetails      runDetails      `json:"runDetails"`
	}
	buildDefinition struct {
		BuildType            string     `json:"buildType"`
		ExternalParameters   external   `json:"externalParameters"`
		InternalParameters   internal   `json:"internalParameters"`
		ResolvedDependencies []Material `json:"resolvedDependencies,omitempty"`
	}
	external struct {
		ConfigSource configSource `json:"configSource"`
		Request      request      `json:"request"`
	}
	configSource struct {
		URI    string            `json:"uri,omitempty"`
		Digest map[string]string `json:"digest,omitempty"`
		Path   string            `json:"path,omitempty"`
	}
	request struct {
		Frontend string            `json:"frontend,omitempty"`
		Args     map[string]string `json:"args,omitempty"`
		Secrets  []Mount           `json:"secrets,omitempty"`
		SSH      []Mount           `json:"ssh,omitempty"`
		Locals   []local           `json:"locals,omitempty"`
	}
	local struct {
		Name string `json:"name"`
	}
	internal struct {
		BuilderPlatform string `json:"builderPlatform"`
		TargetPlatform  string `json:"targetPlatform,omitempty"`
	}
	runDetails struct {
		Builder struct {
			ID string `json:"id"`
		} `json:"builder"`
		Metadata metadataV1 `json:"metadata"`
	}
	metadataV1 struct {
		InvocationID string     `json:"invocationId,omitempty"`
		StartedOn    *time.Time `json:"startedOn,omitempty"`
		FinishedOn   *time.Time `json:"finishedOn,omitempty"`
		BuildKit     struct{}   `json:"buildkit_metadata"`
		Hermetic     bool       `json:"buildkit_hermetic,omitempty"`
		Completeness struct {
			Request              bool `json:"request"`
			ResolvedDependencies bool `json:"resolvedDependencies"`
		} `json:"buildkit_completeness"`
		Reproducible bool `json:"buildkit_reproducible,omitempty"`
	}
)

// Predicate is the build's provenance predicate and its type.
func Predicate(c Capture, o Options) (string, []byte, error) {
	p, err := predicate(c, o)
	if err != nil {
		return "", nil, err
	}
	if o.Version == "v0.2" {
		b, err := json.Marshal(toV02(p))
		return PredicateV02, b, err
	}
	b, err := json.Marshal(p)
	return PredicateV1, b, err
}

func predicate(c Capture, o Options) (*predicateV1, error) {
	switch o.Mode {
	case "", "max", "full", "min":
	default:
		return nil, fmt.Errorf("provenance: invalid mode %q (want min or max)", o.Mode)
	}
	args, private := publicArgs(c.Args, c.Private)
	p := &predicateV1{}
	bd := &p.BuildDefinition
	bd.BuildType, bd.ResolvedDependencies = buildTypeV1, c.Materials
	bd.InternalParameters = internal{BuilderPlatform: c.BuilderPlatform, TargetPlatform: c.TargetPlatform}
	if uri, ok := args["context"]; ok {
		bd.ExternalParameters.ConfigSource.URI = uri
		for _, m := range c.Materials {
			if m.URI == uri {
				bd.ExternalParameters.ConfigSource.Digest = m.Digest
			}
		}
		delete(args, "context")
	}
	if f, ok := args["filename"]; ok {
		bd.ExternalParameters.ConfigSource.Path = f
		delete(args, "filename")
	}
	req := request{Frontend: "dockerfile.v0", Args: args, Secrets: c.Secrets, SSH: c.SSH}
	for _, l := range c.Locals {
		req.Locals = append(req.Locals, local{Name: l})
	}
	md := &p.RunDetails.Metadata
	p.RunDetails.Builder.ID = o.BuilderID
	md.InvocationID = c.InvocationID
	md.StartedOn, md.FinishedOn = timePtr(c.Started), timePtr(c.Done)
	md.Completeness.Request = !private
	md.Completeness.ResolvedDependencies = len(c.Locals) == 0
	md.Hermetic = len(c.Locals) == 0 && !c.NetworkAccess
	md.Reproducible = o.Reproducible
	if o.Mode == "min" && scrubMin(&req) {
		md.Completeness.Request = false
	}
	if len(req.Args) == 0 {
		req.Args = nil
	}
	bd.ExternalParameters.Request = req
	return p, nil
}

// publicArgs are the args that may be written, and whether any was left out.
func publicArgs(args map[string]string, private map[string]bool) (map[string]string, bool) {
	out := maps.Clone(args)
	if out == nil {
		out = map[string]string{}
	}
	left := false
	for k := range out {
		if private[k] {
			delete(out, k)
			left = true
		}
	}
	return out, left
}

// scrubMin is BuildKit's mode=min: no build args, labels, secrets or SSH ids.
func scrubMin(req *request) bool {
	incomplete := false
	for k := range req.Args {
		if strings.HasPrefix(k, "build-arg:") || strings.HasPrefix(k, "label:") {
			delete(req.Args, k)
			incomplete = true
		}
	}
	req.Secrets, req.SSH = nil, nil
	return incomplete
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
