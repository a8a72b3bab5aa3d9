package cli

import (
	"fmt"
	"os"
	"strconv"

	units "github.com/docker/go-units"
	"github.com/spf13/pflag"
)

// buildxFlags are docker buildx build's flags beyond the original docker build ones, with
// buildx's spellings (buildx v0.38).
type buildxFlags struct {
	addHosts      []string
	allow         []string
	annotations   []string
	attests       []string
	sbom          string
	provenance    string
	contexts      []string
	builderName   string
	call          string
	cgroupParent  string
	debug         bool
	load          bool
	noCacheFilter []string
	platforms     []string
	policy        []string
	resources     []string
	pull          bool
	shmSize       string
	ulimits       []string
	// legacy are buildx's hidden flags that hush rejects when set (resource limits).
	legacy map[string]*string
}

// register adds buildx's flags to fs, in buildx's order and wording.
func (x *buildxFlags) register(fs *pflag.FlagSet) {
	fs.StringSliceVar(&x.addHosts, "add-host", nil, `Add a custom host-to-IP mapping (format: "host:ip")`)
	fs.StringArrayVar(&x.allow, "allow", nil, `Allow extra privileged entitlement (e.g., "network.host", "security.insecure")`)
	fs.StringArrayVar(&x.annotations, "annotation", nil, "Add annotation to the image")
	fs.StringVar(&x.cgroupParent, "cgroup-parent", "", `Set the parent cgroup for the "RUN" instructions during build (not supported: steps run without cgroups)`)
	fs.StringArrayVar(&x.contexts, "build-context", nil, "Additional build contexts (e.g., name=path)")
	fs.BoolVar(&x.load, "load", false, `Shorthand for "--output=type=docker" (loads the image into the docker engine)`)
	fs.StringArrayVar(&x.noCacheFilter, "no-cache-filter", nil, "Do not cache specified stages")
	var platformsDefault []string
	if v := os.Getenv("DOCKER_DEFAULT_PLATFORM"); v != "" {
		platformsDefault = []string{v}
	}
	fs.StringArrayVar(&x.platforms, "platform", platformsDefault, "Set target platform for build")
	fs.StringArrayVar(&x.policy, "policy", nil, `Policy configuration (not supported yet)`)
	fs.Var(byteSize{&x.shmSize}, "shm-size", `Shared memory size for build containers`)
	fs.Var(&ulimitList{&x.ulimits}, "ulimit", "Ulimit options")
	fs.StringArrayVar(&x.resources, "resource", nil, `Resource limits for build containers (not supported: steps run without cgroups)`)
	fs.StringArrayVar(&x.attests, "attest", nil, `Attestation parameters (format: "type=provenance,mode=max"; type=sbom is not supported yet)`)
	fs.StringVar(&x.sbom, "sbom", "", `Shorthand for "--attest=type=sbom" (not supported yet)`)
	fs.StringVar(&x.provenance, "provenance", "", `Shorthand for "--attest=type=provenance"`)
	fs.StringVar(&x.call, "call", "build", `Set method for evaluating build ("check", "outline", "targets")`)
	fs.Var(callAlias{&x.call, "check"}, "check", `Shorthand for "--call=check"`)
	fs.Lookup("check").NoOptDefVal = "true"
	fs.BoolVar(&x.pull, "pull", false, "Always attempt to pull all referenced images")
	fs.StringVar(&x.builderName, "builder", os.Getenv("BUILDX_BUILDER"), "Override the configured builder instance (hush is its own builder: accepted, ignored)")
	fs.BoolVarP(&x.debug, "debug", "D", false, "Enable debug logging")
	x.registerHidden(fs)
}

// registerHidden adds buildx's hidden flags: docker build's old ones, accepted and ignored
// as buildx does, and the per-resource limits, refused when set.
func (x *buildxFlags) registerHidden(fs *pflag.FlagSet) {
	var ignoreBool bool
	var ignore string
	var ignoreSlice []string
	fs.BoolVar(&ignoreBool, "compress", false, "Compress the build context using gzip")
	fs.StringVar(&ignore, "isolation", "", "Container isolation technology")
	fs.StringSliceVar(&ignoreSlice, "security-opt", nil, "Security options")
	fs.BoolVar(&ignoreBool, "squash", false, "Squash newly built layers into a single new layer")
	fs.BoolVar(&ignoreBool, "rm", true, "Remove intermediate containers after a successful build")
	fs.BoolVar(&ignoreBool, "force-rm", false, "Always remove intermediate containers")
	x.legacy = map[string]*string{}
	for _, f := range []struct{ name, short, usage string }{
		{"memory", "m", "Memory limit"}, {"memory-swap", "", "Swap limit"}, {"cpu-shares", "c", "CPU shares"},
		{"cpu-period", "", "CPU CFS period"}, {"cpu-quota", "", "CPU CFS quota"},
		{"cpuset-cpus", "", "CPUs in which to allow execution"}, {"cpuset-mems", "", "MEMs in which to allow execution"},
	} {
		x.legacy[f.name] = fs.StringP(f.name, f.short, "", f.usage)
	}
	for _, n := range []string{"compress", "isolation", "security-opt", "squash", "rm", "force-rm", "memory", "memory-swap",
		"cpu-shares", "cpu-period", "cpu-quota", "cpuset-cpus", "cpuset-mems"} {
		_ = fs.MarkHidden(n)
	}
}

// byteSize is a flag holding docker's byte size ("64m"), checked as it is set.
type byteSize struct{ v *string }

func (b byteSize) String() string {
	if b.v == nil {
		return ""
	}
	return *b.v
}

func (b byteSize) Set(s string) error {
	if _, err := units.RAMInBytes(s); err != nil {
		return err
	}
	*b.v = s
	return nil
}

func (byteSize) Type() string { return "bytes" }

// ulimitList is a repeatable --ulimit NAME=SOFT[:HARD], checked as it is set.
type ulimitList struct{ v *[]string }

func (u *ulimitList) String() string { return fmt.Sprint(*u.v) }

func (u *ulimitList) Set(s string) error {
	if _, err := units.ParseUlimit(s); err != nil {
		return err
	}
	*u.v = append(*u.v, s)
	return nil
}

func (*ulimitList) Type() string { return "ulimit" }

// callAlias is a boolean flag that sets --call to its value (buildx's --check).
type callAlias struct {
	call  *string
	value string
}

func (c callAlias) String() string { return "" }

func (c callAlias) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err == nil && v {
		*c.call = c.value
	}
	return err
}

func (callAlias) Type() string     { return "bool" }
func (callAlias) IsBoolFlag() bool { return true }
