package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hush-build/hush/internal/bake"
	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/secret"
	"github.com/hush-build/hush/internal/sink"
	"github.com/hush-build/hush/internal/sshagent"
)

// bakeTarget is one resolved target made into what a build needs.
type bakeTarget struct {
	name string
	def  *bake.Target
	// context and dockerfile as builder.Request takes them.
	context, dockerfile string
	args, labels        map[string]string
	network             string
	outs                []sink.Output
	ssh                 []sshagent.Spec
	cache               cacheSpecs
	secrets             *secret.Set // loaded by loadBakeSecrets
	// skipped are the secrets left out: missing, and marked optional by the Dockerfile.
	skipped map[string]bool
	// warnings are shown on the target's progress once it starts.
	warnings []string
}

// where names a target in errors: its definition file and name.
func (t *bakeTarget) where() string { return fmt.Sprintf("%s: target %q", t.def.File, t.name) }

// planBakeTargets turns every resolved target into a build, in name order, refusing an
// attribute hush cannot honour.
func planBakeTargets(d *bake.Definition, stdout io.Writer) ([]*bakeTarget, error) {
	names := make([]string, 0, len(d.Target))
	for n := range d.Target {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []*bakeTarget
	for _, n := range names {
		bt := &bakeTarget{name: n, def: d.Target[n]}
		if err := bt.plan(stdout); err != nil {
			return nil, fmt.Errorf("%s: %w", bt.where(), err)
		}
		out = append(out, bt)
	}
	return out, nil
}

// plan fills in the build's inputs from the target.
func (bt *bakeTarget) plan(stdout io.Writer) error {
	t := bt.def
	if err := unsupported(t); err != nil {
		return err
	}
	bt.context, bt.dockerfile = *t.Context, *t.Dockerfile
	if rest, ok := strings.CutPrefix(bt.dockerfile, "cwd://"); ok {
		bt.dockerfile = filepath.Clean(rest) // relative to the working directory
	} else if !bake.IsRemoteURL(bt.context) && !filepath.IsAbs(bt.dockerfile) {
		bt.dockerfile = filepath.Join(bt.context, bt.dockerfile) // buildx: relative to the context
	}
	bt.args, bt.labels = values(t.Args), values(t.Labels)
	bt.network = "default"
	if t.NetworkMode != nil && *t.NetworkMode != "" {
		bt.network = *t.NetworkMode
	}
	switch bt.network {
	case "default", "host", "none":
	default:
		return fmt.Errorf("network %q: want default, host or none", bt.network)
	}
	for _, tag := range t.Tags {
		if _, err := image.NormalizeName(tag); err != nil {
			return fmt.Errorf("tags: %q: %w", tag, err)
		}
	}
	for _, e := range t.Outputs {
		if e.Type == "registry" { // buildx: an image output, pushed (named by the tags)
			e = &bake.Export{Type: "image", Destination: e.Destination, Attrs: maps.Clone(e.Attrs)}
			if e.Attrs == nil {
				e.Attrs = map[string]string{}
			}
			e.Attrs["push"] = "true"
		}
		out, err := sink.Parse(e.String())
		if err != nil {
			return fmt.Errorf("output: %w", err)
		}
		if err := out.Check(stdout); err != nil {
			return fmt.Errorf("output: %w", err)
		}
		bt.outs = append(bt.outs, out)
	}
	if len(bt.outs) > 1 {
		return fmt.Errorf("output: only one output per target is supported, got %d", len(bt.outs))
	}
	for _, s := range t.SSH {
		bt.ssh = append(bt.ssh, sshagent.Spec{ID: s.ID, Paths: s.Paths})
	}
	var err error
	bt.cache, err = cacheEntries(t.CacheFrom, t.CacheTo)
	return err
}

// values drops the unset (null) entries of an args or labels map.
func values(m map[string]*string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

// unsupported names the first attribute of t hush cannot honour yet.
func unsupported(t *bake.Target) error {
	set := func(attr string, isSet bool) error {
		if isSet {
			return fmt.Errorf("attribute %q is not supported by hush yet; remove it or clear it with --set %s.%s=", attr, t.Name, attr)
		}
		return nil
	}
	localOnly := true
	for _, p := range t.Platforms {
		localOnly = localOnly && p == bake.LocalPlatform()
	}
	nonDefaultCall := t.Call != nil && *t.Call != "" && *t.Call != "build"
	pull := t.Pull != nil && *t.Pull
	var extraEnt bool
	for _, e := range t.Entitlements {
		extraEnt = extraEnt || e != "network.host"
	}
	return errors.Join(
		set("contexts", len(t.Contexts) > 0),
		set("no-cache-filter", len(t.NoCacheFilter) > 0),
		set("pull", pull),
		set("annotations", len(t.Annotations) > 0),
		set("attest", len(t.Attest) > 0),
		set("call", nonDefaultCall),
		set("ulimits", len(t.Ulimits) > 0),
		set("platforms", !localOnly || len(t.Platforms) > 1),
		set("shm-size", t.ShmSize != nil),
		set("extra-hosts", len(t.ExtraHosts) > 0),
		set("resources", t.Resources != nil),
		set("policy", t.Policy != nil),
		set("entitlements", extraEnt),
	)
}

// secretSource is where a bake secret's value comes from, with BuildKit's default for an
// entry naming neither: the variable named ID when set, else the file named ID.
func secretSource(s *bake.Secret) (src, env string) {
	src, env = s.FilePath, s.Env
	if src == "" && env == "" {
		if _, ok := os.LookupEnv(s.ID); ok {
			return "", s.ID
		}
		return s.ID, ""
	}
	return src, env
}

// missingSecret says why a secret's source cannot be read (nil: it can be tried).
func missingSecret(s *bake.Secret) error {
	src, env := secretSource(s)
	if env != "" {
		if _, ok := os.LookupEnv(env); !ok {
			return fmt.Errorf("secret %q: environment variable %s is not set", s.ID, env)
		}
		return nil
	}
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
		if s.FilePath == "" {
			return fmt.Errorf("secret %q: environment variable %s is not set and file %s does not exist", s.ID, s.ID, src)
		}
		return fmt.Errorf("secret %q: src %s does not exist", s.ID, src)
	}
	return nil
}

// checkSecretFiles fails, as buildx's --print does, when a secret's file is missing.
func checkSecretFiles(d *bake.Definition) error {
	var errs []error
	for _, n := range sortedNames(d) {
		t := d.Target[n]
		for _, s := range t.Secrets {
			if src, env := secretSource(s); env == "" {
				if _, err := os.Stat(src); err != nil {
					errs = append(errs, fmt.Errorf("%s: target %q: secret %q: %w", t.File, n, s.ID, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

func sortedNames(d *bake.Definition) []string {
	names := make([]string, 0, len(d.Target))
	for n := range d.Target {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// checkMissingSecrets fails when a target's secret source is missing (a src that does
// not exist, an unset variable), naming the file, target and secret id — unless the
// target's Dockerfile mounts that id only with an explicit required=false: then the build
// goes on without it, with a warning.
func checkMissingSecrets(targets []*bakeTarget) error {
	var errs []error
	for _, bt := range targets {
		var optional map[string]bool
		for _, s := range bt.def.Secrets {
			missing := missingSecret(s)
			if missing == nil {
				continue
			}
			if optional == nil {
				ids, _, err := builder.OptionalSecrets(bt.request())
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", bt.where(), err))
					break
				}
				optional = ids
				if optional == nil {
					optional = map[string]bool{}
				}
			}
			if !optional[s.ID] {
				errs = append(errs, fmt.Errorf("%s: %w", bt.where(), missing))
				continue
			}
			if bt.skipped == nil {
				bt.skipped = map[string]bool{}
			}
			bt.skipped[s.ID] = true
			bt.warnings = append(bt.warnings, fmt.Sprintf("%s: %v; the Dockerfile marks it optional (required=false): building without it", bt.where(), missing))
		}
	}
	return errors.Join(errs...)
}

// request is the part of the target's build request that names its inputs.
func (bt *bakeTarget) request() builder.Request {
	req := builder.Request{Context: bt.context, Dockerfile: bt.dockerfile}
	if bt.def.DockerfileInline != nil {
		req.DockerfileInline = []byte(*bt.def.DockerfileInline)
	}
	return req
}

// loadBakeSecrets reads every distinct secret source of the targets once, into a pool,
// and gives each target a set of its own secrets (copies from the pool) and ssh key
// files. The caller wipes the pool and every target's set.
func loadBakeSecrets(targets []*bakeTarget) (*secret.Set, error) {
	pool := secret.NewSet()
	if err := checkMissingSecrets(targets); err != nil {
		return pool, err
	}
	for _, bt := range targets {
		set, err := builder.LoadSecrets(builder.SecretInputs{SSH: bt.ssh})
		if err != nil {
			return pool, fmt.Errorf("%s: %w", bt.where(), err)
		}
		bt.secrets = set
		for _, s := range bt.def.Secrets {
			if bt.skipped[s.ID] {
				continue
			}
			if err := copySecret(pool, set, s); err != nil {
				return pool, fmt.Errorf("%s: %w", bt.where(), err)
			}
		}
	}
	return pool, nil
}

// copySecret reads s's source into the pool unless it is there, and copies it into set.
func copySecret(pool, set *secret.Set, s *bake.Secret) error {
	src, env := secretSource(s)
	key := "env:" + env
	if env == "" {
		abs, err := filepath.Abs(src)
		if err != nil {
			return fmt.Errorf("secret %q: %w", s.ID, err)
		}
		key = "file:" + abs
	}
	if !pool.Has(key) {
		if err := pool.AddSpecs([]secret.Spec{{ID: s.ID, Src: src, Env: env}}, os.LookupEnv); err != nil {
			return err
		}
		// AddSpecs stored it under the id: keep it under the source's key.
		if err := pool.CopyFrom(pool, s.ID, key); err != nil {
			return err
		}
	}
	return set.CopyFrom(pool, key, s.ID)
}
