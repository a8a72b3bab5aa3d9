package codeship

import (
	"path"
	"strings"

	"go.yaml.in/yaml/v3"
)

// parseService reads one service's keys.
func parseService(src source, name string, e entry) (*Service, error) {
	svc := &Service{Name: name, Line: e.key.Line}
	es, err := src.entries(e.value)
	if err != nil {
		return nil, src.errf(e.key, "service %s: %v", name, err)
	}
	for _, f := range es {
		what := name + "." + f.key.Value
		if err := svc.set(src, f, what); err != nil {
			return nil, err
		}
	}
	if svc.Build == nil && svc.Image == "" {
		return nil, src.errf(e.key, "service %s: want build: or image:", name)
	}
	return svc, nil
}

// set reads one key of a service.
func (svc *Service) set(src source, f entry, what string) error {
	var err error
	switch f.key.Value {
	case "image":
		svc.Image, err = src.str(f.value, what)
	case "build":
		svc.Build, err = parseBuild(src, f.value, what, svc)
	case "environment":
		var vs []Var
		vs, err = src.vars(f.value, what)
		svc.Environment = append(svc.Environment, vs...)
	case "encrypted_environment":
		svc.EncryptedEnvironment, err = src.str(f.value, what)
	case "encrypted_env_file", "encrypted_env":
		var fs []string
		fs, err = src.strs(f.value, what)
		svc.EncryptedEnvFiles = append(svc.EncryptedEnvFiles, fs...)
	case "env_file":
		var fs []string
		fs, err = src.strs(f.value, what)
		for _, p := range fs {
			if IsEncryptedFile(p) {
				svc.EncryptedEnvFiles = append(svc.EncryptedEnvFiles, p)
			} else {
				svc.EnvFiles = append(svc.EnvFiles, p)
			}
		}
	case "volumes":
		svc.Volumes, err = parseVolumes(src, f.value, what)
	case "volumes_from":
		svc.VolumesFrom, err = volumesFrom(src, f.value, what)
	case "links":
		svc.Links, err = parseLinks(src, f.value, what)
	case "depends_on":
		svc.DependsOn, err = dependsOn(src, f.value, what)
	case "working_dir":
		svc.WorkingDir, err = src.str(f.value, what)
	case "entrypoint":
		svc.Entrypoint, err = parseCommand(src, f.value, what)
	case "command":
		svc.Command, err = parseCommand(src, f.value, what)
	case "user":
		svc.User, err = src.str(f.value, what)
	case "hostname":
		svc.Hostname, err = src.str(f.value, what)
	case "add_docker":
		svc.AddDocker, err = src.boolean(f.value, what)
	case "cached":
		svc.Cached, err = src.boolean(f.value, what)
	case "default_cache_branch":
		svc.DefaultCacheBranch, err = src.str(f.value, what)
	case "dockercfg_service":
		svc.DockercfgService, err = src.str(f.value, what)
	case "encrypted_dockercfg_path":
		svc.EncryptedDockercfgPath, err = src.str(f.value, what)
	default:
		if ignoredCompose[f.key.Value] {
			src.warnf(f.key, "%s: ignored (Codeship ignored it too)", what)
		} else {
			src.warnf(f.key, "%s: unknown key, ignored", what)
		}
	}
	return err
}

// IsEncryptedFile reports a file name hush decrypts: Jet's .encrypted (and .crypt) or age's .age.
func IsEncryptedFile(p string) bool {
	return strings.HasSuffix(p, ".encrypted") || strings.HasSuffix(p, ".age") || strings.HasSuffix(p, ".crypt")
}

// parseBuild reads build: as a string (the context) or a mapping.
func parseBuild(src source, n *yaml.Node, what string, svc *Service) (*Build, error) {
	n = deref(n)
	b := &Build{Context: "."}
	if n.Kind == yaml.ScalarNode {
		ctx, err := src.str(n, what)
		if ctx != "" {
			b.Context = ctx
		}
		return b, err
	}
	es, err := src.entries(n)
	if err != nil {
		return nil, err
	}
	for _, f := range es {
		w := what + "." + f.key.Value
		var err error
		switch f.key.Value {
		case "image":
			svc.Image, err = src.str(f.value, w)
		case "context", "path":
			var c string
			if c, err = src.str(f.value, w); c != "" {
				b.Context = c
			}
		case "dockerfile", "dockerfile_path":
			b.Dockerfile, err = src.str(f.value, w)
		case "target":
			b.Target, err = src.str(f.value, w)
		case "args":
			var vs []Var
			vs, err = src.vars(f.value, w)
			b.Args = append(b.Args, vs...)
		case "encrypted_args_file":
			var fs []string
			fs, err = src.strs(f.value, w)
			b.EncryptedArgsFiles = append(b.EncryptedArgsFiles, fs...)
		case "encrypted_env_file":
			src.warnf(f.key, "%s: read as encrypted build args (encrypted_args_file), as Jet did", w)
			var fs []string
			fs, err = src.strs(f.value, w)
			b.EncryptedArgsFiles = append(b.EncryptedArgsFiles, fs...)
		case "encrypted_args":
			b.EncryptedArgs, err = src.str(f.value, w)
		case "secrets":
			b.Secrets, err = parseBuildSecrets(src, f.value, w)
		case "cache_from", "labels", "network", "shm_size", "extra_hosts", "platforms", "no_cache", "pull":
			src.warnf(f.key, "%s: ignored", w)
		default:
			src.warnf(f.key, "%s: unknown key, ignored", w)
		}
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

// parseBuildSecrets reads compose build.secrets: ids, or {source, target} mappings.
func parseBuildSecrets(src source, n *yaml.Node, what string) ([]BuildSecret, error) {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		return nil, src.errf(n, "%s: want a list", what)
	}
	var out []BuildSecret
	for _, c := range n.Content {
		c = deref(c)
		if c.Kind == yaml.ScalarNode {
			out = append(out, BuildSecret{Source: c.Value})
			continue
		}
		es, err := src.entries(c)
		if err != nil {
			return nil, err
		}
		var bs BuildSecret
		for _, f := range es {
			v, err := src.str(f.value, what+"."+f.key.Value)
			if err != nil {
				return nil, err
			}
			switch f.key.Value {
			case "source":
				bs.Source = v
			case "target":
				bs.Target = v
			default:
				src.warnf(f.key, "%s.%s: ignored (hush mounts build secrets by id)", what, f.key.Value)
			}
		}
		if bs.Source == "" {
			return nil, src.errf(c, "%s: want source:", what)
		}
		out = append(out, bs)
	}
	return out, nil
}

// parseCommand reads a command or entrypoint: a string or a list of words.
func parseCommand(src source, n *yaml.Node, what string) (Command, error) {
	n = deref(n)
	if n.Kind == yaml.SequenceNode {
		args, err := src.strs(n, what)
		if args == nil {
			args = []string{}
		}
		return Command{Args: args}, err
	}
	s, err := src.str(n, what)
	return Command{Text: s}, err
}

// parseVolumes reads volumes: "HOST:CONTAINER[:ro|rw]", "CONTAINER", or compose's long
// syntax (type, source, target, read_only).
func parseVolumes(src source, n *yaml.Node, what string) ([]Volume, error) {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		return nil, src.errf(n, "%s: want a list", what)
	}
	var out []Volume
	for _, c := range n.Content {
		c = deref(c)
		var v Volume
		var err error
		if c.Kind == yaml.MappingNode {
			v, err = longVolume(src, c, what)
		} else {
			v, err = shortVolume(src, c, what)
		}
		if err != nil {
			return nil, err
		}
		v.Line = c.Line
		out = append(out, v)
	}
	return out, nil
}

func shortVolume(src source, c *yaml.Node, what string) (Volume, error) {
	s, err := src.str(c, what)
	if err != nil {
		return Volume{}, err
	}
	parts := strings.Split(s, ":")
	var v Volume
	switch len(parts) {
	case 1:
		v.Container = parts[0]
	case 2, 3:
		v.Host, v.Container = parts[0], parts[1]
		if len(parts) == 3 {
			for _, o := range strings.Split(parts[2], ",") {
				switch o {
				case "ro":
					v.ReadOnly = true
				case "rw", "z", "Z", "cached", "delegated", "consistent", "nocopy":
				default:
					return Volume{}, src.errf(c, "%s: volume %q: unknown mode %q (want ro or rw)", what, s, o)
				}
			}
		}
	default:
		return Volume{}, src.errf(c, "%s: volume %q: want HOST:CONTAINER[:ro]", what, s)
	}
	if !path.IsAbs(v.Container) {
		return Volume{}, src.errf(c, "%s: volume %q: the container path must be absolute", what, s)
	}
	v.Named = v.Host != "" && !strings.HasPrefix(v.Host, "/") && !strings.HasPrefix(v.Host, ".") && !strings.HasPrefix(v.Host, "~")
	return v, nil
}

func longVolume(src source, c *yaml.Node, what string) (Volume, error) {
	es, err := src.entries(c)
	if err != nil {
		return Volume{}, err
	}
	var v Volume
	kind := "volume"
	for _, f := range es {
		w := what + "." + f.key.Value
		switch f.key.Value {
		case "type":
			kind, err = src.str(f.value, w)
		case "source":
			v.Host, err = src.str(f.value, w)
		case "target":
			v.Container, err = src.str(f.value, w)
		case "read_only":
			v.ReadOnly, err = src.boolean(f.value, w)
		default:
			src.warnf(f.key, "%s: ignored", w)
		}
		if err != nil {
			return Volume{}, err
		}
	}
	if !path.IsAbs(v.Container) {
		return Volume{}, src.errf(c, "%s: target must be an absolute path", what)
	}
	switch kind {
	case "bind":
	case "volume":
		v.Named = v.Host != ""
	default:
		return Volume{}, src.errf(c, "%s: volume type %q is not supported (bind or volume)", what, kind)
	}
	return v, nil
}

// volumesFrom reads volumes_from: service names (a ":ro"/":rw" suffix and compose's
// "service:" or "container:" prefixes are accepted).
func volumesFrom(src source, n *yaml.Node, what string) ([]string, error) {
	vs, err := src.strs(n, what)
	if err != nil {
		return nil, err
	}
	for i, v := range vs {
		if c, ok := strings.CutPrefix(v, "container:"); ok {
			return nil, src.errf(n, "%s: %q: hush shares volumes between services only, not with containers", what, c)
		}
		v = strings.TrimPrefix(v, "service:")
		v = strings.TrimSuffix(strings.TrimSuffix(v, ":ro"), ":rw")
		vs[i] = v
	}
	return vs, nil
}

// parseLinks reads links: "service" or "service:alias".
func parseLinks(src source, n *yaml.Node, what string) ([]Link, error) {
	vs, err := src.strs(n, what)
	if err != nil {
		return nil, err
	}
	out := make([]Link, 0, len(vs))
	for _, v := range vs {
		s, a, _ := strings.Cut(v, ":")
		if s == "" {
			return nil, src.errf(n, "%s: empty link", what)
		}
		out = append(out, Link{Service: s, Alias: a})
	}
	return out, nil
}

// dependsOn reads depends_on: a list of names or compose v3's mapping of name → condition.
func dependsOn(src source, n *yaml.Node, what string) ([]string, error) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return src.strs(n, what)
	}
	es, err := src.entries(n)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range es {
		out = append(out, e.key.Value)
	}
	return out, nil
}
