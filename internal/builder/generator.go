package builder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hush-build/hush/internal/executor"
	"github.com/hush-build/hush/internal/registry"
)

// ImageGenerator runs a hush image as a Codeship-style credential generator: its
// entrypoint with the spec's args in place of its cmd (its cmd when there are none), then
// the output path, with the generator's private tmpfs dir at registry.ImageOutDir.
func (b *Builder) ImageGenerator() registry.ImageRunner {
	return func(ctx context.Context, ref string, args []string, dir string, stdout, stderr io.Writer) error {
		if !executor.InPrivateNS() {
			return errors.New("internal error: image generators run only inside hush's mount namespace")
		}
		var cmd []string
		if len(args) > 1 {
			cmd = args[:len(args)-1]
		}
		err := b.RunImage(ctx, RunSpec{Image: ref, Cmd: cmd, Args: args[len(args)-1:],
			Mounts: []specs.Mount{{Destination: registry.ImageOutDir, Type: "bind", Source: dir,
				Options: []string{"rbind", "nosuid", "nodev", "noexec"}}},
			Prepare: func(uid, gid int) error { return os.Chown(dir, uid, gid) },
			Stdout:  stdout, Stderr: stderr})
		if err != nil {
			return fmt.Errorf("generator %w (hush import, load or build it first if it is missing)", err)
		}
		return nil
	}
}
