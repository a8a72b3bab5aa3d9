package bake

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Config is a parsed definition: its groups and targets, in file order.
type Config struct {
	Groups  []*Group  `json:"group" hcl:"group,block" cty:"group"`
	Targets []*Target `json:"target" hcl:"target,block" cty:"target"`
}

// Group names targets (and other groups) built together.
type Group struct {
	Name        string   `json:"-" hcl:"name,label" cty:"name"`
	Description string   `json:"description,omitempty" hcl:"description,optional" cty:"description"`
	Targets     []string `json:"targets" hcl:"targets" cty:"targets"`
}

// Target is one build, with buildx's attributes, spellings and JSON form.
type Target struct {
	Name        string `json:"-" hcl:"name,label" cty:"name"`
	Description string `json:"description,omitempty" hcl:"description,optional" cty:"description"`
	// Inherits is the only field --set cannot override.
	Inherits []string `json:"inherits,omitempty" hcl:"inherits,optional" cty:"inherits"`

	Annotations      []string           `json:"annotations,omitempty" hcl:"annotations,optional" cty:"annotations"`
	Attest           Entries            `json:"attest,omitempty" hcl:"attest,optional" cty:"attest"`
	Context          *string            `json:"context,omitempty" hcl:"context,optional" cty:"context"`
	Contexts         map[string]string  `json:"contexts,omitempty" hcl:"contexts,optional" cty:"contexts"`
	Dockerfile       *string            `json:"dockerfile,omitempty" hcl:"dockerfile,optional" cty:"dockerfile"`
	DockerfileInline *string            `json:"dockerfile-inline,omitempty" hcl:"dockerfile-inline,optional" cty:"dockerfile-inline"`
	Args             map[string]*string `json:"args,omitempty" hcl:"args,optional" cty:"args"`
	Labels           map[string]*string `json:"labels,omitempty" hcl:"labels,optional" cty:"labels"`
	Tags             []string           `json:"tags,omitempty" hcl:"tags,optional" cty:"tags"`
	CacheFrom        Entries            `json:"cache-from,omitempty" hcl:"cache-from,optional" cty:"cache-from"`
	CacheTo          Entries            `json:"cache-to,omitempty" hcl:"cache-to,optional" cty:"cache-to"`
	Target           *string            `json:"target,omitempty" hcl:"target,optional" cty:"target"`
	Secrets          Secrets            `json:"secret,omitempty" hcl:"secret,optional" cty:"secret"`
	SSH              SSHKeys            `json:"ssh,omitempty" hcl:"ssh,optional" cty:"ssh"`
	Platforms        []string           `json:"platforms,omitempty" hcl:"platforms,optional" cty:"platforms"`
	Outputs          Exports            `json:"output,omitempty" hcl:"output,optional" cty:"output"`
	Pull             *bool              `json:"pull,omitempty" hcl:"pull,optional" cty:"pull"`
	NoCache          *bool              `json:"no-cache,omitempty" hcl:"no-cache,optional" cty:"no-cache"`
	NetworkMode      *string            `json:"network,omitempty" hcl:"network,optional" cty:"network"`
	NoCacheFilter    []string           `json:"no-cache-filter,omitempty" hcl:"no-cache-filter,optional" cty:"no-cache-filter"`
	ShmSize          *string            `json:"shm-size,omitempty" hcl:"shm-size,optional" cty:"shm-size"`
	Ulimits          []string           `json:"ulimits,omitempty" hcl:"ulimits,optional" cty:"ulimits"`
	Resources        *Raw               `json:"resources,omitempty" hcl:"resources,optional" cty:"resources"`
	Call             *string            `json:"call,omitempty" hcl:"call,optional" cty:"call"`
	Entitlements     []string           `json:"entitlements,omitempty" hcl:"entitlements,optional" cty:"entitlements"`
	ExtraHosts       map[string]*string `json:"extra-hosts,omitempty" hcl:"extra-hosts,optional" cty:"extra-hosts"`
	Policy           *Raw               `json:"policy,omitempty" hcl:"policy,optional" cty:"policy"`

	// File is the definition file the target was (last) declared in.
	File string `json:"-"`
	// linked marks a target built only because another one's contexts name it.
	linked bool
}

// Linked reports a target built only as another's named context (target:NAME).
func (t *Target) Linked() bool { return t.linked }

// Raw is an attribute kept as written (resources, policy): hush prints it but cannot
// build with it.
type Raw struct{ V cty.Value }

// FromCtyValue keeps the value.
func (r *Raw) FromCtyValue(in cty.Value, _ cty.Path) error {
	r.V = in
	return nil
}

// ToCtyValue returns the value.
func (r *Raw) ToCtyValue() cty.Value {
	if r == nil {
		return cty.DynamicVal
	}
	return r.V
}

// MarshalJSON is the value as JSON.
func (r *Raw) MarshalJSON() ([]byte, error) {
	return ctyjson.SimpleJSONValue{Value: r.V}.MarshalJSON()
}

// MarshalJSON escapes "${" and "%{" in values a later HCL read would interpolate, as
// buildx does, so that printed output reads back as the same definition.
func (t *Target) MarshalJSON() ([]byte, error) {
	type plain Target
	tgt := plain(*t)
	esc := func(s string) string {
		return strings.ReplaceAll(strings.ReplaceAll(s, "${", "$${"), "%{", "%%{")
	}
	tgt.Annotations = slices.Clone(t.Annotations)
	for i, v := range tgt.Annotations {
		tgt.Annotations[i] = esc(v)
	}
	if t.DockerfileInline != nil {
		s := esc(*t.DockerfileInline)
		tgt.DockerfileInline = &s
	}
	escMap := func(m map[string]*string) map[string]*string {
		out := maps.Clone(m)
		for k, v := range m {
			if v != nil {
				s := esc(*v)
				out[k] = &s
			}
		}
		return out
	}
	tgt.Labels, tgt.Args, tgt.ExtraHosts = escMap(t.Labels), escMap(t.Args), escMap(t.ExtraHosts)
	return json.Marshal(tgt)
}
