package cli

import (
	"fmt"
	"io"
	"os"

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
			fmt.Fprintln(cmd.OutOrStdout(), e.ID.String())
			return nil
		},
	}
}
