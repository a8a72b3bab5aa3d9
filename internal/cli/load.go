package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/image"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
)

func newLoadCmd(g *globals) *cobra.Command {
	var input string
	cmd := &cobra.Command{
		Use:   "load [-i] FILE.tar",
		Short: "Load images from a docker-archive or OCI archive",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				input = args[0]
			}
			if input == "" {
				return fmt.Errorf("load: name the archive (hush load FILE.tar or -i FILE.tar)")
			}
			store, err := g.store()
			if err != nil {
				return err
			}
			// Load verifies every image and unpacks its layers (g.unpackLayers) before it
			// tags any: a load that fails anywhere publishes nothing.
			names, err := store.Load(input, func(img v1.Image) error { return g.unpackLayers(img) })
			if err != nil {
				return err
			}
			for _, n := range names {
				fmt.Fprintf(cmd.OutOrStdout(), "Loaded image: %s\n", n)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "Read from tar archive file")
	return cmd
}

func newImportCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "import ROOTFS.tar|- NAME[:TAG]",
		Short: "Create an image from a root filesystem tarball (like docker import)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r io.Reader = cmd.InOrStdin()
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
				defer f.Close()
				r = f
			}
			store, err := g.store()
			if err != nil {
				return err
			}
			e, err := store.Import(r, args[1])
			if err != nil {
				return fmt.Errorf("importing %s: %w", args[0], err)
			}
			if err := g.unpack(store, e.ID.String()); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), e.ID.String())
			return nil
		},
	}
}

// unpack prepares an imported image's layers as overlay lowers now, as docker
// does at load time, so the first build on it does not pay for it.
func (g *globals) unpack(store *image.Store, ref string) error {
	img, _, err := store.Image(ref)
	if err != nil {
		return err
	}
	if err := g.unpackLayers(img); err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	return nil
}

// unpackLayers unpacks img's layers into the state dir's snapshots (each checked against
// its diff_id).
func (g *globals) unpackLayers(img v1.Image) error {
	return builder.Unpack(g.root, img)
}
