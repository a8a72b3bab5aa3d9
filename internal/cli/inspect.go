package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hush-build/hush/internal/image"
)

func newHistoryCmd(g *globals) *cobra.Command {
	var noTrunc, quiet bool
	cmd := &cobra.Command{
		Use:   "history IMAGE",
		Short: "Show the history of an image (full created_by, like docker history --no-trunc)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			img, err := g.image(args[0])
			if err != nil {
				return fmt.Errorf("history %s: %w", args[0], err)
			}
			rows, err := image.History(img)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if quiet {
				for _, r := range rows {
					fmt.Fprintln(out, r.ID)
				}
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "IMAGE\tCREATED\tCREATED BY\tSIZE\tCOMMENT")
			for _, r := range rows {
				by := r.CreatedBy
				_ = noTrunc // hush always shows the full created_by
				by = strings.ReplaceAll(by, "\n", "\\n")
				id := r.ID
				if strings.HasPrefix(id, "sha256:") && !noTrunc {
					id = shortID(strings.TrimPrefix(id, "sha256:"))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", id, ago(r.Created), by, humanSize(r.Size), r.Comment)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "Show full layer IDs (created_by is never truncated)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only show layer IDs")
	return cmd
}

func newInspectCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect IMAGE",
		Short: "Print an image's config JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			img, err := g.image(args[0])
			if err != nil {
				return fmt.Errorf("inspect %s: %w", args[0], err)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				return fmt.Errorf("inspect %s: %w", args[0], err)
			}
			b, err := json.MarshalIndent(cf, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(b))
			return nil
		},
	}
}
