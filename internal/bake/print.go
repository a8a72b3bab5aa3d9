package bake

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/docker/buildx/bake/hclparser"
	"github.com/moby/buildkit/frontend/dockerfile/dfgitutil"
)

// IsRemoteURL reports an HTTP(S) URL or a Git reference, as buildx tells them.
func IsRemoteURL(s string) bool {
	if strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") {
		return true
	}
	_, ok, _ := dfgitutil.ParseGitRef(s)
	return ok
}

// Finalize does what buildx does to each target before printing or building: a local
// context path is cleaned (cwd:// dropped), and SOURCE_DATE_EPOCH from the environment
// becomes a build arg unless the target sets it.
func (d *Definition) Finalize(lookup func(string) (string, bool)) error {
	for _, name := range slices.Sorted(maps.Keys(d.Target)) {
		t := d.Target[name]
		if (t.Context != nil && *t.Context == "-") || (t.Dockerfile != nil && *t.Dockerfile == "-") {
			what := "context"
			if t.Dockerfile != nil && *t.Dockerfile == "-" {
				what = "dockerfile"
			}
			return fmt.Errorf("target %s: %s from stdin not allowed in bake", name, what)
		}
		ctx := *t.Context
		if v, ok := strings.CutPrefix(ctx, "cwd://"); ok {
			ctx = path.Clean(v)
		} else if !IsRemoteURL(ctx) {
			ctx = path.Clean(ctx)
		}
		t.Context = &ctx
		if _, ok := t.Args["SOURCE_DATE_EPOCH"]; ok {
			continue
		}
		if v, _ := lookup("SOURCE_DATE_EPOCH"); v != "" {
			t.Args = setEntry(t.Args, "SOURCE_DATE_EPOCH", v)
		}
	}
	return nil
}

// Print writes the definition as `docker buildx bake --print` does.
func (d *Definition) Print(w io.Writer) error {
	data, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(data))
	return err
}

// ParseList parses --list: "targets", "variables", or "type=…[,format=table|json]".
func ParseList(in string) (typ, format string, err error) {
	if !strings.Contains(in, "=") {
		typ = in
	} else {
		for _, field := range strings.Split(in, ",") {
			k, v, ok := strings.Cut(field, "=")
			if !ok {
				return "", "", fmt.Errorf("invalid value %s", field)
			}
			switch strings.TrimSpace(strings.ToLower(k)) {
			case "type":
				typ = v
			case "format":
				format = v
			default:
				return "", "", fmt.Errorf("unexpected key '%s' in '%s'", k, field)
			}
		}
	}
	if format == "" {
		format = "table"
	}
	if typ != "targets" && typ != "variables" {
		return "", "", fmt.Errorf("invalid list type %q", typ)
	}
	if format != "table" && format != "json" {
		return "", "", fmt.Errorf("invalid list format %q", format)
	}
	return typ, format, nil
}

// PrintVariables lists the definition's variables (--list variables).
func PrintVariables(w io.Writer, format string, vars []*hclparser.Variable) error {
	slices.SortFunc(vars, func(a, b *hclparser.Variable) int { return cmp.Compare(a.Name, b.Name) })
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(vars)
	}
	tw := tabwriter.NewWriter(w, 1, 8, 1, '\t', 0)
	fmt.Fprintln(tw, "VARIABLE\tTYPE\tVALUE\tDESCRIPTION")
	for _, v := range vars {
		value := "<null>"
		if v.Value != nil {
			value = *v.Value
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.Name, v.Type, value, v.Description)
	}
	return tw.Flush()
}

// PrintTargets lists the targets and groups (--list targets); names starting with "_"
// are private and left out.
func PrintTargets(w io.Writer, format string, c *Config) error {
	type item struct {
		Name        string `json:"name"`
		Description string `json:"description,omitempty"`
		Group       bool   `json:"group,omitempty"`
	}
	var items []item
	for _, t := range c.Targets {
		items = append(items, item{Name: t.Name, Description: t.Description})
	}
	for _, g := range c.Groups {
		descr := g.Description
		if len(g.Targets) > 0 {
			names := slices.Sorted(slices.Values(g.Targets))
			if descr != "" {
				descr += " (" + strings.Join(names, ", ") + ")"
			} else {
				descr = strings.Join(names, ", ")
			}
		}
		items = append(items, item{Name: g.Name, Description: descr, Group: true})
	}
	slices.SortStableFunc(items, func(a, b item) int { return cmp.Compare(a.Name, b.Name) })
	items = slices.DeleteFunc(items, func(i item) bool { return strings.HasPrefix(i.Name, "_") })
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(items)
	}
	tw := tabwriter.NewWriter(w, 1, 8, 1, '\t', 0)
	fmt.Fprintln(tw, "TARGET\tDESCRIPTION")
	for _, i := range items {
		fmt.Fprintf(tw, "%s\t%s\n", i.Name, i.Description)
	}
	return tw.Flush()
}

// ErrNoDefinition is returned when no definition file was found.
var ErrNoDefinition = errors.New("couldn't find a bake definition")
