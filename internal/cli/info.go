package cli

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hush-build/hush/internal/builder"
)

func newInfoCmd(g *globals) *cobra.Command {
	var runtime string
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Show how hush runs here: mode, runtime, overlay driver, network",
		Long: `Set up hush's namespaces and state dir as a build does and show the result: rootful or
rootless (with the user namespace's ID maps), whether hush runs in a container, the OCI
runtime, the overlay driver (the kernel's overlayfs, or fuse-overlayfs where the kernel
refuses), and the user-mode network helper for --network=default. When something is
missing it fails with what to install or configure.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if handled, err := g.enterNamespace(); handled || err != nil {
				return err
			}
			s, err := builder.Describe(g.root, builder.Config{Runtime: runtime})
			if err != nil {
				return err
			}
			return writeSetup(cmd.OutOrStdout(), s)
		},
	}
	cmd.Flags().StringVar(&runtime, "runtime", "", "OCI runtime to check: crun or runc (default crun when installed)")
	return cmd
}

func writeSetup(out io.Writer, s builder.Setup) error {
	tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	mode := s.Mode
	if s.Maps != "" {
		mode += " (" + s.Maps + ")"
	}
	container := "no"
	if s.InContainer {
		container = "yes"
	}
	for _, row := range [][2]string{
		{"Mode", mode}, {"In a container", container}, {"State dir", s.Root}, {"Tmpfs dir", s.TmpfsDir},
		{"Runtime", s.Runtime}, {"Overlay driver", s.Overlay}, {"Processes", s.Processes},
		{"Network", "RUN: host (default) or none; hush steps --network=default: " + s.Network},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	return tw.Flush()
}
