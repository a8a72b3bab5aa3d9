package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/template"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/hush-build/hush/internal/dockerfmt"
	"github.com/hush-build/hush/internal/image"
)

func newInspectCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short: "Display detailed information on one or more images",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInspect(g, args, format, cmd.OutOrStdout())
		},
		ValidArgsFunction: g.completeImages,
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", `Format output using a custom template:
'json':             Print in JSON format
'TEMPLATE':         Print output using the given Go template.
Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates`)
	return cmd
}

// inspectImage is docker's image inspect shape (its API's InspectResponse, with the
// Parent and DockerVersion fields older engines print, empty for a BuildKit image).
type inspectImage struct {
	ID            string                           `json:"Id"`
	RepoTags      []string                         `json:"RepoTags"`
	RepoDigests   []string                         `json:"RepoDigests"`
	Parent        string                           `json:"Parent"`
	Comment       string                           `json:"Comment"`
	Created       string                           `json:"Created,omitempty"`
	DockerVersion string                           `json:"DockerVersion"`
	Author        string                           `json:"Author"`
	Config        *dockerspec.DockerOCIImageConfig `json:"Config"`
	Architecture  string                           `json:"Architecture"`
	Variant       string                           `json:"Variant,omitempty"`
	Os            string                           `json:"Os"`
	OsVersion     string                           `json:"OsVersion,omitempty"`
	Size          int64                            `json:"Size"`
	RootFS        struct {
		Type   string   `json:",omitempty"`
		Layers []string `json:",omitempty"`
	} `json:"RootFS"`
	Metadata struct{ LastTagTime time.Time } `json:"Metadata"`
}

// runInspect prints each image as docker image inspect does: an indented JSON array,
// "json" compact, or a Go template per image (docker/cli's template functions). Every
// image that exists is printed; a missing one fails the command after.
func runInspect(g *globals, refs []string, format string, out io.Writer) error {
	store, err := g.store()
	if err != nil {
		return err
	}
	var tmpl *template.Template
	if format != "" && format != "json" {
		if tmpl, err = dockerfmt.Parse(format); err != nil {
			return fmt.Errorf("template parsing error: %w", err)
		}
	}
	sizes := store.LayerSizes()
	defer sizes.Save()
	var found []inspectImage
	var errs []error
	var buf bytes.Buffer
	for _, ref := range refs {
		ii, err := inspectOne(store, sizes, ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if tmpl == nil {
			found = append(found, ii)
			continue
		}
		if err := executeInspect(&buf, tmpl, ii); err != nil {
			errs = append(errs, err)
		}
	}
	if tmpl == nil {
		if err := writeInspectJSON(&buf, found, format == "json"); err != nil {
			return err
		}
	}
	if _, err := out.Write(buf.Bytes()); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// executeInspect runs the template on one image; like docker, a template that fails on the
// typed value is run again on the image's JSON (so {{.Config.Env}} and map keys work).
func executeInspect(buf *bytes.Buffer, tmpl *template.Template, ii inspectImage) error {
	var one bytes.Buffer
	if err := tmpl.Execute(&one, ii); err != nil {
		raw, _ := json.Marshal(ii)
		var m any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		_ = dec.Decode(&m)
		one.Reset()
		if err := tmpl.Option("missingkey=error").Execute(&one, m); err != nil {
			return fmt.Errorf("template parsing error: %w", err)
		}
	}
	buf.Write(one.Bytes())
	buf.WriteByte('\n')
	return nil
}

// writeInspectJSON writes docker's array: indented with four spaces, or compact.
func writeInspectJSON(buf *bytes.Buffer, found []inspectImage, compact bool) error {
	if len(found) == 0 {
		buf.WriteString("[]\n")
		return nil
	}
	var b []byte
	var err error
	if compact {
		b, err = json.Marshal(found)
	} else {
		b, err = json.MarshalIndent(found, "", "    ")
	}
	if err != nil {
		return err
	}
	buf.Write(b)
	buf.WriteByte('\n')
	return nil
}

// inspectOne describes the image ref names.
func inspectOne(store *image.Store, sizes *image.LayerSizes, ref string) (inspectImage, error) {
	img, e, err := store.Image(ref)
	if err != nil {
		return inspectImage{}, noSuchImage(ref, err)
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return inspectImage{}, fmt.Errorf("inspect %s: %w", ref, err)
	}
	var cfg dockerspec.DockerOCIImage
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return inspectImage{}, fmt.Errorf("inspect %s: parsing config: %w", ref, err)
	}
	ii := inspectImage{ID: e.ID.String(), Config: &cfg.Config, Architecture: cfg.Architecture,
		Variant: cfg.Variant, Os: cfg.OS, OsVersion: cfg.OSVersion, Author: cfg.Author}
	ii.RepoTags, ii.RepoDigests = repoNames(e.Names)
	if cfg.Created != nil {
		ii.Created = cfg.Created.UTC().Format(time.RFC3339Nano)
	}
	if n := len(cfg.History); n > 0 {
		ii.Comment = cfg.History[n-1].Comment
	}
	ii.RootFS.Type = cfg.RootFS.Type
	for _, d := range cfg.RootFS.DiffIDs {
		ii.RootFS.Layers = append(ii.RootFS.Layers, d.String())
	}
	if ii.Size, err = sizes.Image(img); err != nil {
		return inspectImage{}, fmt.Errorf("inspect %s: %w", ref, err)
	}
	return ii, nil
}

// noSuchImage is docker's error for a reference the store does not have.
func noSuchImage(ref string, err error) error {
	if errors.Is(err, image.ErrNotFound) {
		return fmt.Errorf("No such image: %s", ref)
	}
	return err
}
