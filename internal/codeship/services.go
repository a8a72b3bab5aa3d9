package codeship

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Service is one service of the services file.
type Service struct {
	Name string
	// Line is where the service is defined in the services file.
	Line int
	// Image is the image to pull (image:) or, for a built service, the name it gets
	// (build.image, else image:, else DIR_SERVICE as compose names it).
	Image string
	Build *Build
	// Environment is environment:; EnvFiles are env_file entries (paths relative to the
	// services file); EncryptedEnvFiles are encrypted_env_file entries and env_file entries
	// that name an encrypted file (.encrypted or .age).
	Environment       []Var
	EnvFiles          []string
	EncryptedEnvFiles []string
	// EncryptedEnvironment is encrypted_environment: Jet-encrypted KEY=value text, inline.
	EncryptedEnvironment string
	Volumes              []Volume
	VolumesFrom          []string
	Links                []Link
	DependsOn            []string
	WorkingDir           string
	Entrypoint, Command  Command
	User                 string
	Hostname             string
	AddDocker            bool
	Cached               bool
	DefaultCacheBranch   string
	// DockercfgService and EncryptedDockercfgPath are the service's registry
	// credentials (for pulling its image and its build's FROM images).
	DockercfgService       string
	EncryptedDockercfgPath string
}

// Build is how a service's image is built.
type Build struct {
	// Context is the context directory, relative to the services file ("." by default);
	// Dockerfile is relative to Context ("" means Context/Dockerfile).
	Context    string
	Dockerfile string
	Target     string
	Args       []Var
	// EncryptedArgsFiles are encrypted_args_file (and build.encrypted_env_file) entries;
	// EncryptedArgs is encrypted_args, Jet-encrypted KEY=value text inline.
	EncryptedArgsFiles []string
	EncryptedArgs      string
	// Secrets are the compose build.secrets the build mounts (top-level secrets: ids).
	Secrets []BuildSecret
}

// BuildSecret is one entry of compose's build.secrets.
type BuildSecret struct {
	Source string // the top-level secrets: key
	Target string // the id the Dockerfile mounts ("" = Source)
}

// Command is a command or entrypoint as written: a string (split like a shell, without
// expansions) or a list of words.
type Command struct {
	Text string   `json:"-"`
	Args []string `json:"-"`
}

// IsSet reports a command that was written.
func (c Command) IsSet() bool { return c.Text != "" || c.Args != nil }

// String is the command as shown in a plan.
func (c Command) String() string {
	if c.Args != nil {
		return strings.Join(c.Args, " ")
	}
	return c.Text
}

// Volume is one volumes: entry.
type Volume struct {
	// Host is the host path (relative to the services file unless absolute); "" for an
	// anonymous volume. Named is a compose named volume (no / or . at the start).
	Host      string
	Container string
	ReadOnly  bool
	Named     bool
	Line      int
}

// Link is one links: entry, "service" or "service:alias".
type Link struct {
	Service string
	Alias   string
}

// TopSecret is one compose top-level secrets: entry.
type TopSecret struct {
	File        string // relative to the services file
	Environment string
}

// Services is a parsed services file.
type Services struct {
	// File is the services file's path; Dir the directory paths are relative to.
	File, Dir string
	byName    map[string]*Service
	order     []string
	Secrets   map[string]TopSecret
}

// Get returns a service by name.
func (s *Services) Get(name string) (*Service, bool) {
	svc, ok := s.byName[name]
	return svc, ok
}

// Names lists the services in the order of the file.
func (s *Services) Names() []string { return append([]string(nil), s.order...) }

// ignoredCompose are compose keys Codeship documented as ignored; hush ignores them too,
// with a warning.
var ignoredCompose = map[string]bool{
	"cgroup_parent": true, "container_name": true, "cpu_quota": true, "cpu_shares": true, "cpuset": true,
	"devices": true, "extends": true, "group_add": true, "ipc": true, "isolation": true, "logging": true,
	"log_driver": true, "log_opt": true, "mac_address": true, "mem_limit": true, "memswap_limit": true,
	"mem_swappiness": true, "networks": true, "network_mode": true, "oom_score_adj": true, "pid": true,
	"stop_signal": true, "stop_grace_period": true, "tty": true, "tmpfs": true, "ulimits": true,
	"volume_driver": true, "privileged": true, "external_links": true, "ports": true, "expose": true,
	"stdin_open": true, "labels": true, "restart": true, "healthcheck": true, "dns": true,
	"dns_search": true, "extra_hosts": true, "cap_add": true, "cap_drop": true, "security_opt": true,
	"shm_size": true, "sysctls": true, "init": true, "platform": true, "domainname": true,
}

// ParseServices reads a services file; name is how messages call it.
func ParseServices(path, name string, warnings *[]Warning) (*Services, error) {
	src := source{name: name, warnings: warnings}
	root, err := src.parseFile(path)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	out := &Services{File: abs, Dir: filepath.Dir(abs), byName: map[string]*Service{}, Secrets: map[string]TopSecret{}}
	if root == nil {
		return nil, &Error{File: name, Msg: "empty services file"}
	}
	es, err := src.entries(root)
	if err != nil {
		return nil, err
	}
	for _, e := range es {
		switch e.key.Value {
		case "services":
			ses, err := src.entries(e.value)
			if err != nil {
				return nil, err
			}
			for _, se := range ses {
				if err := out.add(src, se); err != nil {
					return nil, err
				}
			}
		case "version", "name":
		case "secrets":
			if err := out.topSecrets(src, e.value); err != nil {
				return nil, err
			}
		case "volumes", "networks", "configs":
			src.warnf(e.key, "top-level %s: is ignored (volumes are bind mounts relative to the services file)", e.key.Value)
		default:
			if strings.HasPrefix(e.key.Value, "x-") {
				continue // compose extension fields: anchors' homes
			}
			if err := out.add(src, e); err != nil {
				return nil, err
			}
		}
	}
	if len(out.order) == 0 {
		return nil, &Error{File: name, Line: root.Line, Msg: "no services defined"}
	}
	for _, n := range out.order {
		defaultImage(out, out.byName[n])
	}
	return out, checkServiceRefs(src, out)
}

// add parses one service.
func (s *Services) add(src source, e entry) error {
	name := e.key.Value
	if _, dup := s.byName[name]; dup {
		return src.errf(e.key, "service %q is defined twice", name)
	}
	svc, err := parseService(src, name, e)
	if err != nil {
		return err
	}
	s.byName[name] = svc
	s.order = append(s.order, name)
	return nil
}

// defaultImage names a built service's image as compose does: DIR_SERVICE.
func defaultImage(s *Services, svc *Service) {
	if svc.Image != "" || svc.Build == nil {
		return
	}
	base := strings.ToLower(filepath.Base(s.Dir))
	clean := func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.' {
			return r
		}
		return -1
	}
	base = strings.Trim(strings.Map(clean, base), "._-")
	svcName := strings.Trim(strings.Map(clean, strings.ToLower(svc.Name)), "._-")
	if base == "" {
		base = "hush"
	}
	svc.Image = base + "_" + svcName
}

func (s *Services) topSecrets(src source, n *yaml.Node) error {
	es, err := src.entries(n)
	if err != nil {
		return err
	}
	for _, e := range es {
		fs, err := src.entries(e.value)
		if err != nil {
			return err
		}
		var ts TopSecret
		for _, f := range fs {
			v, err := src.str(f.value, "secrets."+e.key.Value+"."+f.key.Value)
			if err != nil {
				return err
			}
			switch f.key.Value {
			case "file":
				ts.File = v
			case "environment":
				ts.Environment = v
			default:
				src.warnf(f.key, "secrets.%s: unknown key %q (hush reads file: and environment:)", e.key.Value, f.key.Value)
			}
		}
		if (ts.File == "") == (ts.Environment == "") {
			return src.errf(e.key, "secrets.%s: want exactly one of file: or environment:", e.key.Value)
		}
		s.Secrets[e.key.Value] = ts
	}
	return nil
}

// checkServiceRefs checks that links, depends_on, volumes_from, dockercfg_service and
// build secrets name things the file defines.
func checkServiceRefs(src source, s *Services) error {
	names := s.Names()
	sort.Strings(names)
	for _, n := range s.order {
		svc := s.byName[n]
		var refs []string
		for _, l := range svc.Links {
			refs = append(refs, l.Service)
		}
		refs = append(append(refs, svc.DependsOn...), svc.VolumesFrom...)
		if svc.DockercfgService != "" {
			refs = append(refs, svc.DockercfgService)
		}
		for _, r := range refs {
			if _, ok := s.byName[r]; !ok {
				return &Error{File: src.name, Line: svc.Line, Msg: fmt.Sprintf("service %s refers to service %q, which is not defined (services: %s)", n, r, strings.Join(names, ", "))}
			}
		}
		if svc.Build != nil {
			for _, bs := range svc.Build.Secrets {
				if _, ok := s.Secrets[bs.Source]; !ok {
					return &Error{File: src.name, Line: svc.Line, Msg: fmt.Sprintf("service %s: build secret %q is not defined under the top-level secrets:", n, bs.Source)}
				}
			}
		}
	}
	return nil
}
