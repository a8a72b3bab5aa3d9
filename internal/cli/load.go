package cli

import (
	"path/filepath"

	"fmt"
	"io"
	"os"

	"github.com/hush-build/hush/internal/build"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/snapshot"

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
			names, err := store.Load(input)
			if err != nil {
				return fmt.Errorf("loading %s: %w", input, err)
			}
			for _, n := range names {
				if err := g.unpack(store, n); err != nil {
					return err
				}
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

// unpack prepares a loaded or imported image's layers as overlay lowers now, as docker
// does at load time, so the first build on it does not pay for it.
func (g *globals) unpack(store *image.Store, ref string) error {
	img, _, err := store.Image(ref)
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("reading layers of %s: %w", ref, err)
	}
	snaps, err := snapshot.Open(filepath.Join(g.root, "snapshots"))
	if err != nil {
		return err
	}
	if _, err := build.Lowers(snaps, layers); err != nil {
		return fmt.Errorf("unpacking %s: %w", ref, err)
	}
	return nil
}
