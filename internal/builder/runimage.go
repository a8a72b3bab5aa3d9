package builder

import (
	"context"
	"fmt"
	"io"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hush-build/hush/internal/executor"
	"github.com/hush-build/hush/internal/fscopy"
)

// RunSpec is one run of a stored image (a credential generator, for now).
type RunSpec struct {
	// Image is a name or ID in the local store.
	Image string
	// Cmd replaces the image's Cmd when non-nil; Args are appended after it.
	Cmd, Args []string
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
	lowers, err := b.lowers(layers)
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
	if user == "" {
		user = "0"
	}
	owner, err := fscopy.ResolveOwner(ws.Merged, user)
	if err != nil {
		return fmt.Errorf("image %s: USER %s: %w", s.Image, cf.Config.User, err)
	}
	if s.Prepare != nil {
		if err := s.Prepare(owner.UID, owner.GID); err != nil {
			return err
		}
	}
	cmd := cf.Config.Cmd
	if s.Cmd != nil {
		cmd = s.Cmd
	}
	argv := append(append(append([]string(nil), cf.Config.Entrypoint...), cmd...), s.Args...)
	cwd := cf.Config.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	c := &executor.Container{ID: newID(), Rootfs: ws.Merged, Args: argv, Env: cf.Config.Env, Cwd: cwd,
		UID: uint32(owner.UID), GID: uint32(owner.GID), Network: "host", Mounts: s.Mounts,
		Stdout: s.Stdout, Stderr: s.Stderr}
	if err := b.Runtime.Run(ctx, c); err != nil {
		return fmt.Errorf("image %s: %w", s.Image, err)
	}
	return nil
}
