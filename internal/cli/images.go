package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hush-build/hush/internal/dockerfmt"
	"github.com/hush-build/hush/internal/image"
)

type imagesOptions struct {
	match   string
	quiet   bool
	all     bool
	noTrunc bool
	digests bool
	format  string
	filters []string
}

func newImagesCmd(g *globals) *cobra.Command {
	o := &imagesOptions{}
	cmd := &cobra.Command{
		Use:   "images [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "List images in the local store",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				o.match = args[0]
			}
			return runImages(g, o, cmd.OutOrStdout())
		},
		ValidArgsFunction: g.completeImages,
	}
	f := cmd.Flags()
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only show image IDs")
	f.BoolVarP(&o.all, "all", "a", false, "Show all images (default hides dangling images)")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	f.BoolVar(&o.digests, "digests", false, "Show digests")
	f.StringVar(&o.format, "format", "", formatHelp)
	f.StringArrayVarP(&o.filters, "filter", "f", nil, "Filter output based on conditions provided (dangling, reference, before, since, label)")
	return cmd
}

// formatHelp is docker's --format help.
const formatHelp = `Format output using a custom template:
'table':            Print output in table format with column headers (default)
'table TEMPLATE':   Print output in table format using the given Go template
'json':             Print in JSON format
'TEMPLATE':         Print output using the given Go template.
Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates`

// runImages lists the store as docker images does: docker's columns, its --format
// templates, its filters, dangling images only with -a or a dangling filter.
func runImages(g *globals, o *imagesOptions, out io.Writer) error {
	filters, err := parseImageFilters(o.filters)
	if err != nil {
		return err
	}
	if o.match != "" {
		filters.references = append(filters.references, o.match)
	}
	store, err := g.store()
	if err != nil {
		return err
	}
	sums, err := imageSummaries(store)
	if err != nil {
		return err
	}
	sums, err = filters.apply(sums)
	if err != nil {
		return err
	}
	if !o.all && filters.dangling == nil {
		sums = slices.DeleteFunc(sums, imageSummary.dangling)
	}
	format := o.format
	if format == "" {
		format = dockerfmt.TableFormatKey
	}
	f := imageFormat(format, o.quiet, o.digests)
	return dockerfmt.Write(out, f, &imageRow{}, imageRows(sums, !o.noTrunc, o.digests, f))
}

// imageSummaries describes every stored image the way docker's API does: familiar
// RepoTags and RepoDigests, the size of its layers' files, newest first.
func imageSummaries(store *image.Store) ([]imageSummary, error) {
	entries, err := store.List()
	if err != nil {
		return nil, err
	}
	sizes := store.LayerSizes()
	defer sizes.Save()
	out := make([]imageSummary, 0, len(entries))
	for _, e := range entries {
		img, err := store.ImageByDigest(e.Digest)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed since it was listed (an rmi or prune of another process)
			}
			return nil, err
		}
		size, err := sizes.Image(img)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		tags, digests := repoNames(e.Names)
		out = append(out, imageSummary{ID: e.ID.String(), RepoTags: tags, RepoDigests: digests,
			Created: e.Created.Unix(), Size: size, Labels: e.Labels})
	}
	return out, nil
}

// repoNames splits stored names into docker's RepoTags and RepoDigests, familiar.
func repoNames(names []string) (tags, digests []string) {
	tags, digests = []string{}, []string{}
	for _, n := range names {
		f := image.FamiliarName(n)
		if strings.Contains(f, "@") {
			digests = append(digests, f)
		} else {
			tags = append(tags, f)
		}
	}
	return tags, digests
}

func newRmiCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "rmi IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := g.store()
			if err != nil {
				return err
			}
			for _, ref := range args {
				rm := store.Remove
				if force {
					rm = store.ForceRemove
				}
				done, err := rm(ref)
				if err != nil {
					return fmt.Errorf("removing %s: %w", ref, err)
				}
				for _, d := range done {
					fmt.Fprintln(cmd.OutOrStdout(), d)
				}
			}
			return nil
		},
		ValidArgsFunction: g.completeImages,
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Remove the image even if it has several names")
	return cmd
}
