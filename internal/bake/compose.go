package bake

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/consts"
	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	composeschema "github.com/compose-spec/compose-go/v2/schema"
	composetypes "github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/go-units"
)

// parseComposeFiles turns the build sections of compose files into targets, one per
// service that builds, all in the group "default".
func parseComposeFiles(files []File, env Env) (*Config, error) {
	envs, err := composeEnv(env)
	if err != nil {
		return nil, err
	}
	var cfgs []composetypes.ConfigFile
	var names []string
	for _, f := range files {
		cfgs = append(cfgs, composetypes.ConfigFile{Filename: f.Name, Content: f.Data})
		names = append(names, f.Name)
	}
	proj, err := loadComposeFiles(cfgs, envs)
	if err != nil {
		return nil, err
	}
	var c Config
	if len(proj.Services) == 0 {
		return &c, nil
	}
	c.Groups, c.Targets = []*Group{}, []*Target{}
	g := &Group{Name: "default"}
	for _, s := range proj.Services {
		if s.Build == nil {
			continue
		}
		t, err := composeTarget(s, proj)
		if err != nil {
			return nil, err
		}
		t.File = strings.Join(names, ", ")
		g.Targets = append(g.Targets, t.Name)
		c.Targets = append(c.Targets, t)
	}
	c.Groups = append(c.Groups, g)
	return &c, nil
}

// composeTarget is the target of one service's build section.
func composeTarget(s composetypes.ServiceConfig, proj *composetypes.Project) (*Target, error) {
	name := sanitizeTargetName(s.Name)
	if err := validateTargetName(name); err != nil {
		return nil, fmt.Errorf("invalid service name %q: %w", name, err)
	}
	b := s.Build
	t := &Target{Name: name, Context: nonEmpty(b.Context), Dockerfile: nonEmpty(b.Dockerfile),
		DockerfileInline: nonEmpty(b.DockerfileInline), Tags: b.Tags, NetworkMode: nonEmpty(b.Network),
		Platforms: b.Platforms, Labels: map[string]*string{}, ExtraHosts: map[string]*string{}}
	if b.AdditionalContexts != nil {
		t.Contexts = composeContexts(b.AdditionalContexts)
	}
	if b.ShmSize > 0 {
		t.ShmSize = nonEmpty(units.BytesSize(float64(b.ShmSize)))
	}
	for n, u := range b.Ulimits {
		ul, err := units.ParseUlimit(fmt.Sprintf("%s=%d:%d", n, u.Soft, u.Hard))
		if err != nil {
			return nil, err
		}
		t.Ulimits = append(t.Ulimits, ul.String())
	}
	for k, v := range b.ExtraHosts {
		t.ExtraHosts[k] = nonEmpty(strings.Join(v, ","))
	}
	for _, k := range b.SSH {
		e := &SSH{ID: k.ID}
		if k.Path != "" {
			e.Paths = []string{k.Path}
		}
		t.SSH = append(t.SSH, e)
	}
	slices.SortFunc(t.SSH, (*SSH).compare)
	for _, bs := range b.Secrets {
		sec, err := composeSecret(bs, proj.Secrets[bs.Source])
		if err != nil {
			return nil, err
		}
		t.Secrets = append(t.Secrets, sec)
	}
	for k, v := range b.Labels {
		t.Labels[k] = &v
	}
	if err := composeBuildOptions(t, s, proj); err != nil {
		return nil, err
	}
	if err := t.composeExtTarget(b.Extensions); err != nil {
		return nil, err
	}
	if b.Target != "" {
		t.Target = nonEmpty(b.Target)
	}
	if len(t.Tags) == 0 && s.Image != "" {
		t.Tags = []string{s.Image}
	}
	return t, nil
}

// composeBuildOptions sets args (resolved from the service's environment, then the
// project's), caches, attestations, no_cache and pull.
func composeBuildOptions(t *Target, s composetypes.ServiceConfig, proj *composetypes.Project) error {
	b := s.Build
	var err error
	if t.CacheFrom, err = ParseEntries(b.CacheFrom); err != nil {
		return err
	}
	if t.CacheTo, err = ParseEntries(b.CacheTo); err != nil {
		return err
	}
	var attests []string
	if b.SBOM != "" {
		attests = append(attests, canonicalAttest("sbom", b.SBOM))
	}
	if b.Provenance != "" {
		attests = append(attests, canonicalAttest("provenance", b.Provenance))
	}
	if t.Attest, err = ParseEntries(attests); err != nil {
		return err
	}
	if b.NoCache {
		t.NoCache = &b.NoCache
	}
	if b.Pull {
		t.Pull = &b.Pull
	}
	args := b.Args.Resolve(func(key string) (string, bool) {
		if v, ok := s.Environment[key]; ok && v != nil {
			return *v, true
		}
		v, ok := proj.Environment[key]
		return v, ok
	})
	for k, v := range args {
		if v == nil {
			continue
		}
		if t.Args == nil {
			t.Args = map[string]*string{}
		}
		t.Args[k] = v
	}
	return nil
}

// canonicalAttest writes a compose sbom/provenance value as an attest entry.
func canonicalAttest(kind, value string) string {
	if b, err := strconv.ParseBool(value); err == nil {
		return fmt.Sprintf("type=%s,disabled=%t", kind, !b)
	}
	return fmt.Sprintf("type=%s,%s", kind, value)
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// composeSecret is a service's build secret: its id is the source, its value comes from
// the top-level secret's file or environment variable.
func composeSecret(in composetypes.ServiceSecretConfig, top composetypes.SecretConfig) (*Secret, error) {
	if top.External {
		return nil, fmt.Errorf("unsupported external secret %s", in.Source)
	}
	return &Secret{ID: in.Source, FilePath: top.File, Env: top.Environment}, nil
}

// composeContexts names additional contexts; service:NAME is target:NAME.
func composeContexts(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if kind, name, ok := strings.Cut(v, ":"); ok && (kind == "service" || kind == "target") {
			v = "target:" + sanitizeTargetName(name)
		}
		out[k] = v
	}
	return out
}

// loadComposeFiles loads the services' image, build, environment and env_file and the
// top-level secrets, interpolated with envs, as buildx does.
func loadComposeFiles(cfgs []composetypes.ConfigFile, envs map[string]string, options ...func(*loader.Options)) (*composetypes.Project, error) {
	if envs == nil {
		envs = map[string]string{}
	}
	details := composetypes.ConfigDetails{ConfigFiles: cfgs, Environment: envs}
	raw, err := loader.LoadModelWithContext(context.Background(), details, append([]func(*loader.Options){func(o *loader.Options) {
		name := "bake"
		if v := envs[consts.ComposeProjectName]; v != "" {
			name = v
		}
		o.SetProjectName(name, false)
		o.SkipNormalization = true
		o.SkipValidation = true
	}}, options...)...)
	if err != nil {
		return nil, err
	}
	filtered := map[string]any{}
	if services, ok := raw["services"].(map[string]any); ok {
		out := map[string]any{}
		for name, svc := range services {
			m, _ := svc.(map[string]any)
			keep := map[string]any{}
			for _, field := range []string{"image", "build", "environment", "env_file"} {
				if v, ok := m[field]; ok {
					keep[field] = v
				}
			}
			out[name] = keep
		}
		filtered["services"] = out
	}
	if v, ok := raw["secrets"]; ok {
		filtered["secrets"] = v
	}
	if len(filtered) == 0 {
		return nil, errors.New("empty compose file")
	}
	if err := composeschema.Validate(filtered); err != nil {
		return nil, err
	}
	return loader.ModelToProject(filtered, loader.ToOptions(&details, append([]func(*loader.Options){func(o *loader.Options) {
		o.SkipNormalization = true
		o.Profiles = []string{"*"}
	}}, options...)), details)
}

// validateComposeFile reports whether a file is a compose file (by its .yml/.yaml name, or
// for another name by loading as one) and whether it loads.
func validateComposeFile(data []byte, name string, env Env) (bool, error) {
	envs, err := composeEnv(env)
	if err != nil {
		return false, err
	}
	lower := strings.ToLower(name)
	load := func() error {
		_, err := loadComposeFiles([]composetypes.ConfigFile{{Content: data}}, envs, func(o *loader.Options) {
			o.SkipConsistencyCheck = true
		})
		return err
	}
	switch {
	case strings.HasSuffix(lower, ".yml"), strings.HasSuffix(lower, ".yaml"):
		return true, load()
	case strings.HasSuffix(lower, ".json"), strings.HasSuffix(lower, ".hcl"):
		return false, nil
	}
	err = load()
	return err == nil, err
}

// composeEnv is the environment compose files are interpolated with: the process's, then
// the .env file of the working directory for what it lacks, then --var values.
func composeEnv(env Env) (map[string]string, error) {
	envs := map[string]string{}
	if env.lookupAllowed() && env.Environ != nil {
		for _, kv := range env.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			envs[k] = v
		}
	}
	if env.Getwd != nil {
		if wd, err := env.Getwd(); err == nil {
			if err := loadDotEnv(envs, wd); err != nil {
				return nil, err
			}
		}
	}
	maps.Copy(envs, env.Vars)
	return envs, nil
}

// loadDotEnv adds the variables of dir/.env that cur lacks.
func loadDotEnv(cur map[string]string, dir string) error {
	p := filepath.Join(dir, ".env")
	st, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) || (err == nil && st.IsDir()) {
		return nil
	}
	if err != nil {
		return err
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	vars, err := dotenv.UnmarshalBytesWithLookup(data, func(k string) (string, bool) {
		v, ok := cur[k]
		return v, ok
	})
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	for k, v := range vars {
		if _, set := cur[k]; !set {
			cur[k] = v
		}
	}
	return nil
}
