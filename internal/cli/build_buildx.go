package cli

import (
	"fmt"
	"strings"

	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/buildflags"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/provenance"
)

// buildxValues are the buildx flags' values, parsed.
type buildxValues struct {
	call        buildflags.Call
	contexts    map[string]builder.NamedContext
	limits      builder.RunLimits
	allow       builder.Entitlements
	annotations image.Annotations
	provenance  *provenance.Options
	platforms   []ocispecs.Platform
}

// check parses buildx's flags and refuses, by name, the ones hush does not support.
func (x *buildxFlags) check() (buildxValues, error) {
	var v buildxValues
	if err := x.unsupported(); err != nil {
		return v, err
	}
	var err error
	if v.limits.ExtraHosts, err = buildflags.ParseHosts(x.addHosts); err != nil {
		return v, err
	}
	if v.limits.Ulimits, err = buildflags.ParseUlimits(x.ulimits); err != nil {
		return v, err
	}
	if v.limits.ShmSize, err = buildflags.ParseShmSize(x.shmSize); err != nil {
		return v, err
	}
	if v.allow, err = buildflags.ParseAllow(x.allow); err != nil {
		return v, err
	}
	if v.annotations, err = buildflags.ParseAnnotations(x.annotations); err != nil {
		return v, err
	}
	if v.contexts, err = buildflags.ParseContexts(x.contexts); err != nil {
		return v, err
	}
	if v.call, err = buildflags.ParseCall(x.call); err != nil {
		return v, err
	}
	if v.platforms, err = buildflags.ParsePlatforms(x.platforms); err != nil {
		return v, err
	}
	var sbom bool
	if v.provenance, sbom, err = buildflags.ParseProvenance(x.attests, x.provenance); err != nil {
		return v, err
	}
	if sbom {
		return v, fmt.Errorf("--attest type=sbom: SBOM attestations are not supported yet")
	}
	return v, nil
}

// unsupported names the first flag set that hush cannot honour, and why.
func (x *buildxFlags) unsupported() error {
	switch {
	case x.cgroupParent != "":
		return fmt.Errorf("--cgroup-parent: not supported: hush runs RUN steps without cgroups")
	case len(x.resources) > 0:
		return fmt.Errorf("--resource: not supported: hush runs RUN steps without cgroups, so it cannot limit them")
	case len(x.policy) > 0:
		return fmt.Errorf("--policy: build policies are not supported yet")
	case x.sbom != "" && !isFalse(x.sbom):
		return fmt.Errorf("--sbom: SBOM attestations are not supported yet")
	}
	for name, v := range x.legacy {
		if *v != "" {
			return fmt.Errorf("--%s: not supported: hush runs RUN steps without cgroups, so it cannot limit them", name)
		}
	}
	return nil
}

// isFalse reports a boolean flag value that turns an attestation off.
func isFalse(s string) bool {
	switch strings.ToLower(s) {
	case "false", "0", "f":
		return true
	}
	return false
}
