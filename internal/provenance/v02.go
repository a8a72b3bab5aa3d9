package provenance

import (
	"encoding/json"
	"time"
)

// The SLSA v0.2 predicate in BuildKit's shape (version=v0.2).
type (
	predicateV02 struct {
		Builder struct {
			ID string `json:"id"`
		} `json:"builder"`
		BuildType  string        `json:"buildType"`
		Invocation invocationV02 `json:"invocation"`
		Materials  []Material    `json:"materials,omitempty"`
		Metadata   *metadataV02  `json:"metadata,omitempty"`
	}
	invocationV02 struct {
		ConfigSource struct {
			URI        string            `json:"uri,omitempty"`
			Digest     map[string]string `json:"digest,omitempty"`
			EntryPoint string            `json:"entryPoint,omitempty"`
		} `json:"configSource"`
		Parameters  request `json:"parameters"`
		Environment struct {
			Platform string `json:"platform"`
		} `json:"environment"`
	}
	metadataV02 struct {
		BuildInvocationID string     `json:"buildInvocationID,omitempty"`
		BuildStartedOn    *time.Time `json:"buildStartedOn,omitempty"`
		BuildFinishedOn   *time.Time `json:"buildFinishedOn,omitempty"`
		Completeness      struct {
			Parameters  bool `json:"parameters"`
			Environment bool `json:"environment"`
			Materials   bool `json:"materials"`
		} `json:"completeness"`
		Reproducible bool     `json:"reproducible"`
		BuildKit     struct{} `json:"https://mobyproject.org/buildkit@v1#metadata"`
		Hermetic     bool     `json:"https://mobyproject.org/buildkit@v1#hermetic,omitempty"`
	}
)

// toV02 is BuildKit's ConvertToSLSA02.
func toV02(p *predicateV1) *predicateV02 {
	out := &predicateV02{BuildType: buildTypeV02, Materials: p.BuildDefinition.ResolvedDependencies}
	out.Builder.ID = p.RunDetails.Builder.ID
	cs := p.BuildDefinition.ExternalParameters.ConfigSource
	out.Invocation.ConfigSource.URI, out.Invocation.ConfigSource.Digest, out.Invocation.ConfigSource.EntryPoint = cs.URI, cs.Digest, cs.Path
	out.Invocation.Parameters = p.BuildDefinition.ExternalParameters.Request
	out.Invocation.Environment.Platform = p.BuildDefinition.InternalParameters.BuilderPlatform
	md := p.RunDetails.Metadata
	out.Metadata = &metadataV02{BuildInvocationID: md.InvocationID, BuildStartedOn: md.StartedOn,
		BuildFinishedOn: md.FinishedOn, Hermetic: md.Hermetic, Reproducible: md.Reproducible}
	out.Metadata.Completeness.Parameters = md.Completeness.Request
	out.Metadata.Completeness.Environment = true
	out.Metadata.Completeness.Materials = md.Completeness.ResolvedDependencies
	return out
}

// Metadata is buildx's "buildx.build.provenance" of a --metadata-file: the build's
// provenance (mode max) as SLSA v0.2, without its metadata in mode "min"
// (BUILDX_METADATA_PROVENANCE), as buildx writes it.
func Metadata(c Capture, mode string) ([]byte, error) {
	p, err := predicate(c, Options{Mode: "max"})
	if err != nil {
		return nil, err
	}
	v := toV02(p)
	if mode != "max" {
		v.Metadata = nil
	}
	return json.Marshal(v)
}
