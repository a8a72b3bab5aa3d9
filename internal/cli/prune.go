package cli

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/gc"
)

// buildx's prompts (docker buildx prune without -f).
const (
	pruneWarning    = "WARNING! This will remove all dangling build cache. Are you sure you want to continue?"
	pruneAllWarning = "WARNING! This will remove all build cache. Are you sure you want to continue?"
)

type pruneOptions struct {
	all, force, verbose, cacheMounts        bool
	filters                                 []string
	keepStorage, reserved, maxUsed, minFree string
	stdin                                   io.Reader
}

func newPruneCmd(g *globals) *cobra.Command {
	o := &pruneOptions{}
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove build cache",
		Long: `Remove build cache no running build uses, as docker buildx prune does: layers only the
cache names (their blobs and unpacked dirs), blobs and unpacked layers nothing names, and
RUN --mount=type=cache dirs. With -a also the cache records and unpacked dirs of layers a
stored image uses (the image's blobs stay: images are removed with rmi only).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.stdin = cmd.InOrStdin()
			return runPrune(g, o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "Include what stored images share (their cache records and unpacked layers)")
	f.StringArrayVar(&o.filters, "filter", nil, "Provide filter values (until=DURATION, id=REGEXP, type=regular|exec.cachemount)")
	f.StringVar(&o.keepStorage, "keep-storage", "", "Amount of disk space to keep for cache (least recently used goes first)")
	f.StringVar(&o.reserved, "reserved-space", "", "Amount of disk space always allowed to keep for cache")
	f.StringVar(&o.maxUsed, "max-used-space", "", "Maximum amount of disk space allowed to keep for cache")
	f.StringVar(&o.minFree, "min-free-space", "", "Target amount of free disk space after pruning")
	f.BoolVar(&o.cacheMounts, "cache-mounts", true, "Include RUN --mount=type=cache dirs (as buildx does); --cache-mounts=false keeps them")
	f.BoolVar(&o.verbose, "verbose", false, "Provide a more verbose output")
	f.BoolVarP(&o.force, "force", "f", false, "Do not prompt for confirmation")
	return cmd
}

func runPrune(g *globals, o *pruneOptions, out io.Writer) error {
	opts, err := o.options()
	if err != nil {
		return err
	}
	if !o.force {
		warning := pruneWarning
		if o.all {
			warning = pruneAllWarning
		}
		if !confirm(o.stdin, out, warning) {
			return nil
		}
	}
	tw := tabwriter.NewWriter(out, 1, 8, 1, '\t', 0)
	first := true
	res, err := builder.Prune(g.root, opts, func(r gc.Record) {
		if o.verbose {
			printVerbose(tw, r)
			return
		}
		if first {
			fmt.Fprintln(tw, "ID\tRECLAIMABLE\tSIZE\tLAST ACCESSED")
			first = false
		}
		printRow(tw, r)
		tw.Flush()
	})
	if err != nil {
		return err
	}
	tw = tabwriter.NewWriter(out, 1, 8, 1, '\t', 0)
	fmt.Fprintf(tw, "Total:\t%s\n", units.HumanSize(float64(res.Freed)))
	return tw.Flush()
}

// confirm asks as docker does: a "y" or "Y" line goes on.
func confirm(in io.Reader, out io.Writer, warning string) bool {
	fmt.Fprintf(out, "%s [y/N] ", warning)
	line, _ := bufio.NewReader(in).ReadString('\n')
	answer := strings.TrimSpace(line)
	return answer == "y" || answer == "Y"
}

// options turns the flags into a prune's options.
func (o *pruneOptions) options() (gc.Options, error) {
	opts := gc.Options{All: o.all, KeepCacheMounts: !o.cacheMounts}
	sizes := []struct {
		flag, v string
		to      *int64
	}{{"keep-storage", o.keepStorage, &opts.ReservedSpace}, {"reserved-space", o.reserved, &opts.ReservedSpace},
		{"max-used-space", o.maxUsed, &opts.MaxUsedSpace}, {"min-free-space", o.minFree, &opts.MinFreeSpace}}
	for _, s := range sizes {
		if s.v == "" {
			continue
		}
		n, err := units.RAMInBytes(s.v)
		if err != nil || n < 0 {
			return gc.Options{}, fmt.Errorf("invalid argument %q for \"--%s\" flag: want a size such as 512MB or 10GB", s.v, s.flag)
		}
		*s.to = n
	}
	return opts, parseFilters(o.filters, &opts)
}

// parseFilters reads --filter values as buildx does: until (or its old name unused-for)
// is a duration, id a regular expression the record ID matches, type one of hush's record
// types.
func parseFilters(filters []string, o *gc.Options) error {
	seen := map[string]bool{}
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return fmt.Errorf("bad format of filter %q (expected name=value)", f)
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if seen[k] {
			return fmt.Errorf("%q filter expects only one value", k)
		}
		seen[k] = true
		switch k {
		case "until", "unused-for":
			if seen["until"] && seen["unused-for"] {
				return fmt.Errorf(`conflicting filters "until" and "unused-for"`)
			}
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%q filter expects a duration (e.g., '24h'): %w", k, err)
			}
			o.KeepDuration = d
		case "id":
			re, err := regexp.Compile(v)
			if err != nil {
				return fmt.Errorf("\"id\" filter: %w", err)
			}
			o.ID = re
		case "type":
			if v != gc.TypeRegular && v != gc.TypeCacheMount {
				return fmt.Errorf("\"type\" filter: %q is not a record type (want %s or %s)", v, gc.TypeRegular, gc.TypeCacheMount)
			}
			o.Type = v
		default:
			return fmt.Errorf("invalid filter %q: hush prune filters on until, unused-for, id and type", k)
		}
	}
	return nil
}

func newDuCmd(g *globals) *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "du",
		Short: "Disk usage of the build cache",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			recs, err := builder.DiskUsage(g.root)
			if err != nil {
				return err
			}
			return printUsage(cmd.OutOrStdout(), recs, verbose)
		},
	}
	cmd.Flags().BoolVar(&verbose, "verbose", false, "Provide a more verbose output")
	return cmd
}

// printUsage prints the records and the summary as docker buildx du does.
func printUsage(out io.Writer, recs []gc.Record, verbose bool) error {
	tw := tabwriter.NewWriter(out, 1, 8, 1, '\t', 0)
	if !verbose {
		fmt.Fprintln(tw, "ID\tRECLAIMABLE\tSIZE\tLAST ACCESSED")
	}
	var total, reclaimable, shared int64
	for _, r := range recs {
		if verbose {
			printVerbose(tw, r)
		} else {
			printRow(tw, r)
		}
		total += r.Size
		if !r.InUse {
			reclaimable += r.Size
		}
		if r.Shared {
			shared += r.Size
		}
	}
	tw.Flush()
	if shared > 0 {
		fmt.Fprintf(tw, "Shared:\t%s\n", units.HumanSize(float64(shared)))
		fmt.Fprintf(tw, "Private:\t%s\n", units.HumanSize(float64(total-shared)))
	}
	fmt.Fprintf(tw, "Reclaimable:\t%s\n", units.HumanSize(float64(reclaimable)))
	fmt.Fprintf(tw, "Total:\t%s\n", units.HumanSize(float64(total)))
	return tw.Flush()
}

// printRow is one line of buildx's table: a mutable record's ID and a shared one's size
// marked with "*".
func printRow(tw io.Writer, r gc.Record) {
	id := r.ID
	if r.Mutable {
		id += "*"
	}
	size := units.HumanSize(float64(r.Size))
	if r.Shared {
		size += "*"
	}
	last := ""
	if r.LastUsedAt != nil {
		last = units.HumanDuration(time.Since(*r.LastUsedAt)) + " ago"
	}
	fmt.Fprintf(tw, "%-40s\t%-5v\t%-10s\t%s\n", id, !r.InUse, size, last)
}

// printVerbose is buildx's --verbose block for one record.
func printVerbose(tw *tabwriter.Writer, r gc.Record) {
	kv := func(k string, v any) { fmt.Fprintf(tw, "%s:\t%v\n", k, v) }
	kv("ID", r.ID)
	kv("Created at", r.CreatedAt)
	kv("Mutable", r.Mutable)
	kv("Reclaimable", !r.InUse)
	kv("Shared", r.Shared)
	kv("Size", units.HumanSize(float64(r.Size)))
	if r.Description != "" {
		kv("Description", r.Description)
	}
	if r.LastUsedAt != nil {
		kv("Last used", units.HumanDuration(time.Since(*r.LastUsedAt))+" ago")
	}
	kv("Type", r.Type)
	fmt.Fprintln(tw)
	tw.Flush()
}
