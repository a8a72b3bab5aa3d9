package builder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hush-build/hush/internal/executor"
	"github.com/hush-build/hush/internal/fscopy"
	"github.com/hush-build/hush/internal/plan"
)

// RunSpec is one run of a stored image: a credential generator, a pipeline step or one of
// its linked services.
type RunSpec struct {
	// Image is a name or ID in the local store.
	Image string
	// Entrypoint replaces the image's Entrypoint when non-nil (and then drops the image's
	// Cmd, as docker run --entrypoint does); Cmd replaces the image's Cmd when non-nil;
	// Args are appended after it.
	Entrypoint, Cmd, Args []string
	// Env is added to the image's environment (a KEY here wins); it reaches the process
	// only through the runtime spec, on hush's private tmpfs.
	Env []string
	// WorkingDir and User replace the image's when set; Hostname is the container's.
	WorkingDir, User, Hostname string
	// NetNS is a network namespace to join; else Network: "host" (the default) or "none".
	NetNS, Network string
	// Mounts are added to the container; Prepare, when set, runs with the uid and gid the
	// image's USER resolves to before the process starts (to hand it a dir).
	Mounts  []specs.Mount
	Prepare func(uid, gid int) error
	Stdout  io.Writer
	Stderr  io.Writer
}

// RunImage runs a stored image's entrypoint on a throw-away overlay of its layers, as its
// USER, in its WORKDIR and environment. It needs hush's private mount namespace.
func (b *Builder) RunImage(ctx context.Context, s RunSpec) error {
	img, _, err := b.Images.Image(s.Image)
	if err != nil {
		return fmt.Errorf("image %s: %w", s.Image, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("image %s: %w", s.Image, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("image %s: %w", s.Image, err)
	}
	lowers, err := b.lowers(b.Lease, layers)
	if err != nil {
		return err
	}
	ws, err := b.Snapshots.NewWorkspace()
	if err != nil {
		return err
	}
	defer ws.Remove()
	unmount, err := b.mounts.Mount(ws, lowers)
	if err != nil {
		return err
	}
	defer unmount()
	user := cf.Config.User
	if s.User != "" {
		user = s.User
	}
	if user == "" {
		user = "0"
	}
	owner, err := fscopy.ResolveOwner(ws.Merged, user)
	if err != nil {
		return fmt.Errorf("image %s: user %s: %w", s.Image, user, err)
	}
	if s.Prepare != nil {
		if err := s.Prepare(owner.UID, owner.GID); err != nil {
			return err
		}
	}
	argv := s.argv(cf.Config)
	if len(argv) == 0 {
		return fmt.Errorf("image %s: no command to run (it has no ENTRYPOINT or CMD)", s.Image)
	}
	cwd := cf.Config.WorkingDir
	if s.WorkingDir != "" {
		cwd = s.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}
	network := s.Network
	if network == "" {
		network = "host"
	}
	c := &executor.Container{ID: newID(), Rootfs: ws.Merged, Args: argv, Env: mergeEnv(withPath(cf.Config.Env), s.Env), Cwd: cwd,
		UID: uint32(owner.UID), GID: uint32(owner.GID), Network: network, NetNS: s.NetNS, Hostname: s.Hostname,
		Mounts: s.Mounts, Stdout: s.Stdout, Stderr: s.Stderr}
	if err := b.Runtime.Run(ctx, c); err != nil {
		return fmt.Errorf("image %s: %w", s.Image, err)
	}
	return nil
}

// argv is the process's command line: the entrypoint, then the command, then Args.
func (s RunSpec) argv(cfg v1.Config) []string {
	entry, cmd := cfg.Entrypoint, cfg.Cmd
	if s.Entrypoint != nil {
		entry, cmd = s.Entrypoint, nil
	}
	if s.Cmd != nil {
		cmd = s.Cmd
	}
	return append(append(append([]string(nil), entry...), cmd...), s.Args...)
}

// withPath gives an environment without PATH the default one, as docker run does.
func withPath(env []string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			return env
		}
	}
	return append(append([]string(nil), env...), "PATH="+plan.DefaultPath)
}

// mergeEnv is base with extra's KEY=value entries added, an entry of extra replacing the
// one of base with the same KEY.
func mergeEnv(base, extra []string) []string {
	out := append([]string(nil), base...)
	idx := map[string]int{}
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		idx[k] = i
	}
	for _, kv := range extra {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// ExitCode reports the exit status of a process RunImage ran that exited non-zero.
func ExitCode(err error) (int, bool) {
	var ee *executor.ExitError
	if errors.As(err, &ee) {
		return ee.Code, true
	}
	return 0, false
}
