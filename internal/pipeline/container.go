package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/codeship"
	"github.com/hush-build/hush/internal/netns"
	"github.com/hush-build/hush/internal/registry"
)

// stepNet is the network of one step: its own namespace (default and none), or the
// host's; and the /etc/hosts its containers see, naming every service of the step.
type stepNet struct {
	ns    *netns.NS
	hosts string
	mode  string
}

var netSeq atomic.Int64

// newStepNet makes a step's network. names are the service names and link aliases the
// step's containers reach each other by (all on 127.0.0.1: they share the namespace).
func (r *run) newStepNet(ctx context.Context, names []string) (*stepNet, error) {
	id := fmt.Sprintf("step-%d", netSeq.Add(1))
	dir := filepath.Join(r.runner.RunDir, "pipeline", r.id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating step dir: %w", err)
	}
	n := &stepNet{mode: r.o.Network, hosts: filepath.Join(dir, id+".hosts")}
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	if len(names) > 0 {
		hosts += "127.0.0.1\t" + strings.Join(names, " ") + "\n"
	}
	if err := os.WriteFile(n.hosts, []byte(hosts), 0o644); err != nil {
		return nil, fmt.Errorf("writing the step's hosts file: %w", err)
	}
	if n.mode == "host" {
		return n, nil
	}
	ns, err := netns.New(dir, id+".netns")
	if err != nil {
		os.Remove(n.hosts)
		return nil, err
	}
	n.ns = ns
	if n.mode == "default" {
		if err := ns.Connect(ctx); err != nil {
			n.Close()
			return nil, err
		}
	}
	return n, nil
}

// Close stops the user-mode network and removes the namespace and the hosts file.
func (n *stepNet) Close() error {
	var err error
	if n.ns != nil {
		err = n.ns.Close()
	}
	os.Remove(n.hosts)
	return err
}

// container is one container of a step: the step's service or a linked one.
type container struct {
	svc     *codeship.Service
	step    *codeship.Step // the step whose command runs in it; nil for a linked service
	command []string       // replaces the service's command when non-nil
	args    []string       // appended (a generator's output path)
	mounts  []specs.Mount  // extra mounts (a generator's output dir)
	prepare func(uid, gid int) error
	stdout  io.Writer
	stderr  io.Writer
}

// runContainer runs c on the step's network until it exits (or ctx ends).
func (r *run) runContainer(ctx context.Context, net *stepNet, c container) error {
	spec, err := r.spec(net, c)
	if err != nil {
		return err
	}
	return r.runner.RunImage(ctx, spec)
}

// spec is the run of c: the service image's config with the service's entrypoint,
// command, working_dir, user; its environment (CI variables, environment:, env files,
// encrypted env) only in the runtime spec; its volumes and the step's hosts file.
func (r *run) spec(net *stepNet, c container) (builder.RunSpec, error) {
	svc := c.svc
	img, err := r.imageOf(svc.Name)
	if err != nil {
		return builder.RunSpec{}, err
	}
	env, err := r.vault.serviceEnv(r.p, svc, c.step)
	if err != nil {
		return builder.RunSpec{}, err
	}
	s := builder.RunSpec{Image: img, Env: append(r.vars.Env(), env...), WorkingDir: svc.WorkingDir, User: svc.User,
		Hostname: svc.Hostname, Args: c.args, Prepare: c.prepare, Stdout: c.stdout, Stderr: c.stderr}
	if s.Hostname == "" {
		s.Hostname = svc.Name
	}
	if svc.Entrypoint.IsSet() {
		if s.Entrypoint, err = words(svc.Entrypoint); err != nil {
			return builder.RunSpec{}, fmt.Errorf("service %s: entrypoint: %w", svc.Name, err)
		}
	}
	switch {
	case c.command != nil:
		s.Cmd = c.command
	case svc.Command.IsSet():
		if s.Cmd, err = words(svc.Command); err != nil {
			return builder.RunSpec{}, fmt.Errorf("service %s: command: %w", svc.Name, err)
		}
	}
	if c.step != nil && c.step.WorkingDir != "" {
		s.WorkingDir = c.step.WorkingDir
	}
	if net.ns != nil {
		s.NetNS = net.ns.Path
	} else {
		s.Network = "host"
	}
	if s.Mounts, err = r.mounts(net, c); err != nil {
		return builder.RunSpec{}, err
	}
	if svc.AddDocker {
		s.Env = append(s.Env, "DOCKER_HOST=unix:///var/run/docker.sock")
	}
	return s, nil
}

// words splits a command as written: a list as it is, a string like a shell would
// without expansions (Codeship: quotes group words, && | > are not special).
func words(c codeship.Command) ([]string, error) {
	if c.Args != nil {
		return c.Args, nil
	}
	return registry.SplitCommand(c.Text)
}

// mounts are c's bind mounts: its service's volumes and the step's, those of the
// services in volumes_from, the docker socket for add_docker, /etc/hosts and resolv.conf.
func (r *run) mounts(net *stepNet, c container) ([]specs.Mount, error) {
	var out []specs.Mount
	add := func(svc *codeship.Service, vols []codeship.Volume, file string) error {
		for _, v := range vols {
			m, ok, err := r.volume(v, file)
			if err != nil {
				return fmt.Errorf("service %s: %w", svc.Name, err)
			}
			if ok {
				out = append(out, m)
			}
		}
		return nil
	}
	if err := add(c.svc, c.svc.Volumes, r.p.Services.File); err != nil {
		return nil, err
	}
	for _, from := range c.svc.VolumesFrom {
		other, _ := r.p.Services.Get(from)
		if err := add(other, other.Volumes, r.p.Services.File); err != nil {
			return nil, err
		}
	}
	if c.step != nil {
		if err := add(c.svc, c.step.Volumes, r.p.StepsFile); err != nil {
			return nil, err
		}
	}
	if c.svc.AddDocker {
		sock := "/var/run/docker.sock"
		if fi, err := os.Stat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("service %s: add_docker: there is no docker socket at %s on this host (hush runs no docker daemon; start dockerd or drop add_docker)", c.svc.Name, sock)
		}
		out = append(out, specs.Mount{Destination: sock, Type: "bind", Source: sock, Options: []string{"rbind", "nosuid", "nodev", "noexec"}})
	}
	out = append(out, specs.Mount{Destination: "/etc/hosts", Type: "bind", Source: net.hosts, Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"}})
	if net.mode != "none" {
		if _, err := os.Stat("/etc/resolv.conf"); err == nil {
			out = append(out, specs.Mount{Destination: "/etc/resolv.conf", Type: "bind", Source: "/etc/resolv.conf", Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"}})
		}
	}
	return append(out, c.mounts...), nil
}

// errClimb is returned (wrapped) for a relative volume path that leaves the repository.
var errClimb = errors.New("climbs out of the repository")

// volume is the bind mount of one volumes: entry; anonymous volumes stay in the
// container's throw-away overlay (ok false). A host path is relative to the file that
// names it and may not climb out of the pipeline's directory; it is created when missing,
// as docker does. A named volume is a directory of this run, removed at its end.
func (r *run) volume(v codeship.Volume, file string) (specs.Mount, bool, error) {
	if v.Host == "" {
		return specs.Mount{}, false, nil
	}
	var src string
	switch {
	case v.Named:
		src = filepath.Join(r.runner.TmpDir, "volumes", v.Host)
	case strings.HasPrefix(v.Host, "~"):
		return specs.Mount{}, false, fmt.Errorf("%s:%d: volume %s:%s: a ~ path is not supported; use a path relative to the file", r.p.Rel(file), v.Line, v.Host, v.Container)
	case filepath.IsAbs(v.Host):
		src = v.Host
	default:
		src = filepath.Join(filepath.Dir(file), v.Host)
		if !within(r.p.Dir, src) {
			return specs.Mount{}, false, fmt.Errorf("%s:%d: volume %s:%s: %w %s", r.p.Rel(file), v.Line, v.Host, v.Container, errClimb, r.p.Dir)
		}
	}
	if !v.Named && !filepath.IsAbs(v.Host) {
		real, err := r.confined(src)
		if err != nil {
			return specs.Mount{}, false, fmt.Errorf("%s:%d: volume %s:%s: %w", r.p.Rel(file), v.Line, v.Host, v.Container, err)
		}
		src = real
	}
	if err := os.MkdirAll(src, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return specs.Mount{}, false, fmt.Errorf("creating volume %s: %w", src, err)
	}
	opts := []string{"rbind", "nosuid", "nodev"}
	if v.ReadOnly {
		opts = append(opts, "ro")
	}
	return specs.Mount{Destination: v.Container, Type: "bind", Source: src, Options: opts}, true, nil
}

// confined resolves the symlinks of src's longest existing ancestor and refuses a path
// that leaves the pipeline's directory through one; the missing rest is created later.
func (r *run) confined(src string) (string, error) {
	root, err := filepath.EvalSymlinks(r.p.Dir)
	if err != nil {
		return "", err
	}
	existing, rest := src, ""
	for {
		if _, err := os.Lstat(existing); err == nil {
			break
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			break
		}
		rest = filepath.Join(filepath.Base(existing), rest)
		existing = parent
	}
	real, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return "", err
	}
	real = filepath.Join(real, rest)
	if !within(root, real) {
		return "", fmt.Errorf("%w %s (through a symlink)", errClimb, r.p.Dir)
	}
	return real, nil
}

// within reports whether p is dir or inside it.
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// outMount mounts a generator's private output dir.
func outMount(dir string) []specs.Mount {
	return []specs.Mount{{Destination: registry.ImageOutDir, Type: "bind", Source: dir,
		Options: []string{"rbind", "nosuid", "nodev", "noexec"}}}
}
