package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hush-build/hush/internal/build"
	"github.com/hush-build/hush/internal/executor"
	"github.com/hush-build/hush/internal/fscopy"
	"github.com/hush-build/hush/internal/registry"
)

// imageGenerator runs a hush image as a Codeship-style credential generator: the image's
// entrypoint with args (or its cmd when args holds only the output path), on a throw-away
// overlay of its layers, with the generator's private tmpfs dir at registry.ImageOutDir.
// It needs the private mount namespace (hush build, or hush push with an image generator).
func imageGenerator(b *build.Builder) registry.ImageRunner {
	return func(ctx context.Context, ref string, args []string, dir string, stdout, stderr io.Writer) error {
		if !executor.InPrivateNS() {
			return errors.New("internal error: image generators run only inside hush's mount namespace")
		}
		img, _, err := b.Images.Image(ref)
		if err != nil {
			return fmt.Errorf("generator image %s: %w (hush import/load/build it first)", ref, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return fmt.Errorf("generator image %s: %w", ref, err)
		}
		layers, err := img.Layers()
		if err != nil {
			return fmt.Errorf("generator image %s: %w", ref, err)
		}
		lowers := make([]string, len(layers))
		for i, l := range layers {
			d, err := l.DiffID()
			if err != nil {
				return err
			}
			if lowers[len(layers)-1-i], err = b.Snapshots.Ensure(d, l.Uncompressed); err != nil {
				return err
			}
		}
		ws, err := b.Snapshots.NewWorkspace()
		if err != nil {
			return err
		}
		defer ws.Remove()
		unmount, err := ws.Mount(lowers)
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
			return fmt.Errorf("generator image %s: USER %s: %w", ref, cf.Config.User, err)
		}
		if err := os.Chown(dir, owner.UID, owner.GID); err != nil {
			return err
		}
		argv := append([]string(nil), cf.Config.Entrypoint...)
		if len(args) == 1 {
			argv = append(argv, cf.Config.Cmd...)
		}
		argv = append(argv, args...)
		id := make([]byte, 8)
		_, _ = rand.Read(id)
		c := &executor.Container{ID: "hush-gen-" + hex.EncodeToString(id), Rootfs: ws.Merged, Args: argv,
			Env: cf.Config.Env, Cwd: cf.Config.WorkingDir, UID: uint32(owner.UID), GID: uint32(owner.GID),
			Network: "host", Stdout: stdout, Stderr: stderr,
			Mounts: []specs.Mount{{Destination: registry.ImageOutDir, Type: "bind", Source: dir,
				Options: []string{"rbind", "nosuid", "nodev", "noexec"}}}}
		if c.Cwd == "" {
			c.Cwd = "/"
		}
		if err := b.Runtime.Run(ctx, c); err != nil {
			return fmt.Errorf("generator image %s: %w", ref, err)
		}
		return nil
	}
}
