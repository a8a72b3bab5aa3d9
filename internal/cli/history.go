package cli

import (
	"encoding/json"
	"io"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/hush-build/hush/internal/dockerfmt"
	"github.com/hush-build/hush/internal/image"
)

type historyOptions struct {
	human, quiet, noTrunc bool
	format                string
}

func newHistoryCmd(g *globals) *cobra.Command {
	o := &historyOptions{}
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runHistory(g, args[0], o, cmd.OutOrStdout())
		},
		ValidArgsFunction: g.completeImages,
	}
	f := cmd.Flags()
	f.BoolVarP(&o.human, "human", "H", true, "Print sizes and dates in human readable format")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only show image IDs")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	f.StringVar(&o.format, "format", "", formatHelp)
	return cmd
}

// Docker's history table formats and headers.
const (
	historyTableFormat      = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
	historyTableFormatNoHum = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
)

// runHistory prints an image's history as docker history does (docker's columns,
// truncation and templates).
func runHistory(g *globals, ref string, o *historyOptions, out io.Writer) error {
	store, err := g.store()
	if err != nil {
		return err
	}
	img, _, err := store.Image(ref)
	if err != nil {
		return noSuchImage(ref, err)
	}
	sizes := store.LayerSizes()
	defer sizes.Save()
	rows, err := image.History(img, sizes.Of)
	if err != nil {
		return err
	}
	format := o.format
	switch {
	case format != "" && format != dockerfmt.TableFormatKey:
	case o.quiet:
		format = dockerfmt.DefaultQuietFormat
	case !o.human:
		format = historyTableFormatNoHum
	default:
		format = historyTableFormat
	}
	var out2 []dockerfmt.Row
	for _, r := range rows {
		out2 = append(out2, &historyContext{row: r, trunc: !o.noTrunc, human: o.human})
	}
	return dockerfmt.Write(out, dockerfmt.Format(format), &historyContext{}, out2)
}

// historyContext is one history row for docker's templates: the fields docker history
// offers, with its truncation and human forms.
type historyContext struct {
	row          image.HistoryRow
	trunc, human bool
}

func (c *historyContext) Header() map[string]string {
	return map[string]string{"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
		"CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}
}

// MarshalJSON is {{json .}}: every field by name, as docker marshals a row.
func (c *historyContext) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"ID": c.ID(), "CreatedSince": c.CreatedSince(), "CreatedAt": c.CreatedAt(),
		"CreatedBy": c.CreatedBy(), "Size": c.Size(), "Comment": c.Comment()})
}

func (c *historyContext) ID() string {
	if c.trunc {
		return dockerfmt.TruncateID(c.row.ID)
	}
	return c.row.ID
}

func (c *historyContext) CreatedAt() string { return c.row.Created.Local().Format(time.RFC3339) }

// historyEpoch is docker's: dates before it are shown as N/A.
var historyEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func (c *historyContext) CreatedSince() string {
	if !c.human {
		return c.CreatedAt()
	}
	if !c.row.Created.After(historyEpoch) {
		return "N/A"
	}
	return units.HumanDuration(time.Now().UTC().Sub(c.row.Created)) + " ago"
}

func (c *historyContext) CreatedBy() string {
	by := strings.ReplaceAll(c.row.CreatedBy, "\t", " ")
	if c.trunc {
		return dockerfmt.Ellipsis(by, 45)
	}
	return by
}

func (c *historyContext) Size() string { return formatSize(c.row.Size, c.human) }

func (c *historyContext) Comment() string { return c.row.Comment }
