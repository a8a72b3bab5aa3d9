// Package dockerfmt prints command output the way the docker CLI does: --format values
// ("table", "table TEMPLATE", "json", a Go template with docker's functions), table
// columns laid out by docker's tabwriter with headers from each field's name, {{json .}}
// of a row as the map of its fields, IDs truncated to 12 digits, long text ellipsized. It
// follows docker/cli's formatter package (whose own dependencies would add a quarter to
// hush's binary) and uses docker's template functions directly. Tables are laid out by
// text/tabwriter with docker's settings; docker's fork of it also counts East Asian wide
// characters as two columns, which image names and tags never hold.
//
// It owns those semantics. It must never decide what a command prints, only how.
package dockerfmt

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"

	"github.com/docker/cli/templates"
)

// Format keys and default formats, docker's.
const (
	TableFormatKey     = "table"
	JSONFormatKey      = "json"
	DefaultQuietFormat = "{{.ID}}"
	jsonFormat         = "{{json .}}"
)

// Format is a --format value.
type Format string

// IsTable reports a table format ("table" or "table TEMPLATE").
func (f Format) IsTable() bool { return strings.HasPrefix(string(f), TableFormatKey) }

// Contains reports whether the format contains sub.
func (f Format) Contains(sub string) bool { return strings.Contains(string(f), sub) }

// templateString is the template a format runs: "json" is {{json .}}, "table" prefixes
// and surrounding spaces are dropped, \t and \n are tab and newline.
func (f Format) templateString() string {
	out := string(f)
	switch out {
	case TableFormatKey:
		return ""
	case JSONFormatKey:
		return jsonFormat
	}
	if after, ok := strings.CutPrefix(out, TableFormatKey); ok {
		out = after
	}
	out = strings.Trim(out, " ")
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(out)
}

// Row is one row's fields for the templates; Header gives a table's column names.
type Row interface {
	Header() map[string]string
}

// Write runs the format over rows and writes the result to out: a table gets a header line
// and columns padded as docker pads them.
func Write(out io.Writer, f Format, header Row, rows []Row) error {
	tmpl, err := templates.Parse(f.templateString())
	if err != nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	var buf bytes.Buffer
	for _, r := range rows {
		if err := tmpl.Execute(&buf, r); err != nil {
			return fmt.Errorf("template parsing error: %w", err)
		}
		buf.WriteString("\n")
	}
	if !f.IsTable() {
		_, err := buf.WriteTo(out)
		return err
	}
	tw := tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)
	_ = tmpl.Funcs(templates.HeaderFunctions).Execute(tw, header.Header())
	_, _ = tw.Write([]byte{'\n'})
	_, _ = buf.WriteTo(tw)
	return tw.Flush()
}

// Parse parses a template with docker's template functions (json, join, lower, upper,
// title, split, truncate, pad).
func Parse(format string) (*template.Template, error) { return templates.Parse(format) }
