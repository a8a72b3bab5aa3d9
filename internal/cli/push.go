package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/registry"
)

type pushOptions struct {
	image, ref string
	registry   registryFlags
}

func newPushCmd(g *globals) *cobra.Command {
	o := &pushOptions{}
	cmd := &cobra.Command{
		Use:   "push IMAGE [REF]",
		Short: "Push an image to a registry",
		Long: `Push an image from the local store to a registry, as REF (host/repo:tag) or, without
REF, under the image's own name.

Credentials come from --registry-auth, then --registry-auth-generator, then the docker
config (DOCKER_CONFIG or ~/.docker/config.json: auths, credsStore, credHelpers). They are
kept in memory and never printed.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.image, o.ref = args[0], args[0]
			if len(args) == 2 {
				o.ref = args[1]
			}
			return runPush(cmd.Context(), g, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.registry.register(cmd.Flags())
	return cmd
}

func runPush(ctx context.Context, g *globals, o *pushOptions, stdout, stderr io.Writer) error {
	runImage, done, handled, err := o.registry.imageRunner(g)
	if handled || err != nil {
		return err
	}
	defer done()
	store, err := g.store()
	if err != nil {
		return err
	}
	// Held until the push ends: an rmi or prune meanwhile leaves its blobs alone.
	img, _, release, err := store.ImageHeld(o.image)
	if err != nil {
		return fmt.Errorf("push %s: %w", o.image, err)
	}
	defer release()
	ref, err := image.NormalizeName(o.ref)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	kc, err := o.registry.keychain(g.root, stderr, runImage)
	if err != nil {
		return err
	}
	opts, err := o.registry.options()
	if err != nil {
		return err
	}
	if err := registry.Push(ctx, img, ref, kc, opts...); err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	fmt.Fprintf(stdout, "pushed %s@%s\n", image.FamiliarName(ref), d)
	return nil
}
