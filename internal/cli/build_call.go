package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/buildflags"
)

// runCall evaluates the build for a --call method and prints its result to stdout as
// buildx does; check exits 1 when it found something (unless ignorestatus).
func (o *buildOptions) runCall(ctx context.Context, b *builder.Builder, req builder.Request, call buildflags.Call, stdout io.Writer) error {
	ev, err := b.Evaluate(ctx, req)
	if err != nil {
		return err
	}
	if call.Format == "json" {
		return printCallJSON(stdout, call.Name, ev)
	}
	switch call.Name {
	case "targets":
		printTargets(stdout, ev.Targets)
	case "outline":
		printOutline(stdout, ev.Outline)
	case "check":
		printChecks(stdout, ev)
	}
	if call.Name == "check" && len(ev.Checks) > 0 && !call.IgnoreStatus {
		return &ExitError{Code: 1}
	}
	return nil
}

// printTargets is BuildKit's targets listing.
func printTargets(w io.Writer, ts []builder.Target) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprint(tw, "TARGET\tDESCRIPTION\n")
	for _, t := range ts {
		name := t.Name
		switch {
		case name == "" && t.Default:
			name = "(default)"
		case t.Default:
			name += " (default)"
		}
		fmt.Fprintf(tw, "%s\t%s\n", name, t.Description)
	}
	tw.Flush()
}

// printOutline is BuildKit's outline: the target, then its build args, secrets and SSH.
func printOutline(w io.Writer, o builder.Outline) {
	if o.Name != "" || o.Description != "" {
		tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
		name := o.Name
		if name == "" {
			name = "(default)"
		}
		fmt.Fprintf(tw, "TARGET:\t%s\n", name)
		if o.Description != "" {
			fmt.Fprintf(tw, "DESCRIPTION:\t%s\n", o.Description)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	if len(o.Args) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
		fmt.Fprint(tw, "BUILD ARG\tVALUE\tDESCRIPTION\n")
		for _, a := range o.Args {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", a.Name, a.Value, a.Description)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	for _, t := range []struct {
		title string
		ms    []builder.OutlineMount
	}{{"SECRET", o.Secrets}, {"SSH", o.SSH}} {
		if len(t.ms) == 0 {
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
		fmt.Fprintf(tw, "%s\tREQUIRED\n", t.title)
		for _, m := range t.ms {
			req := ""
			if m.Required {
				req = "true"
			}
			fmt.Fprintf(tw, "%s\t%s\n", m.Name, req)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
}

// printChecks is buildx's check report: the count, then each warning with the lines of
// the Dockerfile it is about.
func printChecks(w io.Writer, ev *builder.Evaluation) {
	switch n := len(ev.Checks); n {
	case 0:
		fmt.Fprintln(w, "Check complete, no warnings found.")
		return
	case 1:
		fmt.Fprintln(w, "Check complete, 1 warning has been found!")
	default:
		fmt.Fprintf(w, "Check complete, %d warnings have been found!\n", n)
	}
	lines := strings.Split(string(ev.Source), "\n")
	for _, c := range ev.Checks {
		fmt.Fprintf(w, "\nWARNING: %s", c.Rule)
		if c.URL != "" {
			fmt.Fprintf(w, " - %s", c.URL)
		}
		fmt.Fprintf(w, "\n%s\n", c.Message)
		printSource(w, ev.File, lines, c.Line, max(c.EndLine, c.Line))
	}
}

// printSource shows lines start..end of the Dockerfile with context, BuildKit's way.
func printSource(w io.Writer, file string, lines []string, start, end int) {
	if start < 1 || start > len(lines) {
		return
	}
	end = min(end, len(lines))
	pad := 2
	if end == start {
		pad = 4
	}
	first, last := start, end
	for p := 0; p < pad; p++ {
		if first > 1 {
			first--
			p++
		}
		if last != len(lines) {
			last++
			p++
		}
	}
	fmt.Fprintf(w, "%s:%d\n--------------------\n", file, start)
	for i := first; i <= last; i++ {
		pfx := "   "
		if i >= start && i <= end {
			pfx = ">>>"
		}
		fmt.Fprintf(w, " %3d | %s %s\n", i, pfx, lines[i-1])
	}
	fmt.Fprint(w, "--------------------\n")
}

// printCallJSON prints a method's result.json, BuildKit's subrequest shapes.
func printCallJSON(w io.Writer, name string, ev *builder.Evaluation) error {
	loc := func(start, end int) any {
		return map[string]any{"ranges": []any{map[string]any{"start": map[string]int{"line": start}, "end": map[string]int{"line": max(end, start)}}}}
	}
	var v any
	switch name {
	case "targets":
		var ts []map[string]any
		for _, t := range ev.Targets {
			ts = append(ts, omitEmpty(map[string]any{"name": t.Name, "default": t.Default, "description": t.Description,
				"base": t.Base, "platform": t.Platform, "location": loc(t.Line, t.Line)}))
		}
		v = map[string]any{"targets": ts}
	case "outline":
		v = outlineJSON(ev.Outline, loc)
	case "check":
		ws := []map[string]any{}
		for _, c := range ev.Checks {
			ws = append(ws, omitEmpty(map[string]any{"ruleName": c.Rule, "description": c.Description, "url": c.URL,
				"detail": c.Message, "location": loc(c.Line, c.EndLine)}))
		}
		v = map[string]any{"warnings": ws}
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

func omitEmpty(m map[string]any) map[string]any {
	for k, v := range m {
		if v == "" || v == false {
			delete(m, k)
		}
	}
	return m
}

// outlineJSON is BuildKit's outline result.json.
func outlineJSON(o builder.Outline, loc func(int, int) any) map[string]any {
	out := omitEmpty(map[string]any{"name": o.Name, "description": o.Description})
	var args []map[string]any
	for _, a := range o.Args {
		args = append(args, omitEmpty(map[string]any{"name": a.Name, "value": a.Value, "description": a.Description, "location": loc(a.Line, a.Line)}))
	}
	if len(args) > 0 {
		out["args"] = args
	}
	for key, ms := range map[string][]builder.OutlineMount{"secrets": o.Secrets, "ssh": o.SSH} {
		var l []map[string]any
		for _, m := range ms {
			l = append(l, omitEmpty(map[string]any{"name": m.Name, "required": m.Required, "location": loc(m.Line, m.Line)}))
		}
		if len(l) > 0 {
			out[key] = l
		}
	}
	return out
}
