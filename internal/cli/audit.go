package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/spf13/cobra"

	"github.com/hush-build/hush/internal/audit"
	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/registry"
	"github.com/hush-build/hush/internal/secret"
)

type auditOptions struct {
	image    string
	secrets  []string
	envFiles []string
	format   string
	detect   bool
	registry registryFlags
}

func newAuditCmd(g *globals) *cobra.Command {
	var o auditOptions
	cmd := &cobra.Command{
		Use:   "audit IMAGE",
		Short: "Prove an image holds no secret",
		Long: `Search every layer (files deleted by later layers included), the config, the history and
the annotations of IMAGE for each given secret value, raw and encoded (hex, base64 at any
alignment, URL, JSON), base64 and hex also cut into lines (PEM, base64, xxd -p), inside
gzip files in layers too. A finding is a whole copy of a form; docs/spec/audit-report.md
says exactly what is found. With --detect, also look for well-known credential formats.

IMAGE is a name or ID in hush's store, oci:DIR (an OCI layout), docker-archive:FILE.tar,
or a registry reference: every platform of an index is searched. Registry credentials
come from --registry-auth, then --registry-auth-generator, then the docker config, as for
build and push.

A secret shorter than 6 bytes (white space at its ends aside) is not searched for: it would
match ordinary text. Each such id is named in a warning on stderr.

Exit status: 0 clean, 1 a secret or credential was found, 2 error or nothing to search for.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.image = args[0]
			err := runAudit(cmd.Context(), g, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			var ee *ExitError
			if err != nil && !errors.As(err, &ee) {
				fmt.Fprintf(cmd.ErrOrStderr(), "ERROR: %v\n", err)
				return &ExitError{Code: 2}
			}
			return err
		},
	}
	cmd.Flags().StringArrayVar(&o.secrets, "secret", nil, "secret to search for, as for build: id=ID[,src=PATH|,env=VAR]")
	cmd.Flags().StringArrayVar(&o.envFiles, "secret-env-file", nil, "file of KEY=value lines, each value a secret with id KEY")
	cmd.Flags().StringVar(&o.format, "format", "text", "report format: text or json (docs/spec/audit-report.md)")
	cmd.Flags().BoolVar(&o.detect, "detect", false, "also look for well-known credential formats (keys, tokens, credential files)")
	o.registry.register(cmd.Flags())
	return cmd
}

func runAudit(ctx context.Context, g *globals, o auditOptions, out, errOut io.Writer) (err error) {
	if o.format != "text" && o.format != "json" {
		return fmt.Errorf("audit: unknown --format %q (text or json)", o.format)
	}
	secrets, err := auditSecrets(o)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	defer secrets.Wipe()
	// A finding's place (a file name, a label key) may itself hold the value: the report
	// and errors are masked like all of hush's output.
	defer func() { err = redactError(err, secrets) }()
	values := secrets.Values()
	if len(values) == 0 && !o.detect {
		return errors.New("audit: nothing to search for: give --secret, --secret-env-file or --detect")
	}
	if short := secret.ShortIDs(values); len(short) == len(values) && !o.detect {
		return fmt.Errorf("audit: nothing to search for: every secret is shorter than %d bytes (%s); give --detect or a longer secret",
			secret.MinSearchable, strings.Join(short, ", "))
	}
	runImage, done, handled, err := o.registry.imageRunner(g)
	if handled || err != nil {
		return err
	}
	defer done()
	src := auditSource{g: g, registry: o.registry, logs: errOut, runImage: runImage}
	report, err := src.scan(ctx, o.image, values, audit.Options{Detect: o.detect})
	if err != nil {
		return fmt.Errorf("audit %s: %w", o.image, err)
	}
	report.Target = o.image
	var warn bytes.Buffer
	for _, id := range report.Skipped {
		fmt.Fprintf(&warn, "WARNING: secret %q is shorter than %d bytes: too short to search for without matching ordinary text; not searched\n",
			id, secret.MinSearchable)
	}
	if _, err := errOut.Write(secrets.Redact(warn.Bytes())); err != nil {
		return fmt.Errorf("writing warnings: %w", err)
	}
	var buf bytes.Buffer
	if o.format == "json" {
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return fmt.Errorf("writing report: %w", err)
		}
	} else if err := report.WriteText(&buf); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	text := secrets.Redact(buf.Bytes())
	clear(buf.Bytes())
	if _, err := out.Write(text); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	if report.Leaked() {
		return &ExitError{Code: 1}
	}
	return nil
}

// auditSecrets reads the --secret specs and --secret-env-file files once (a file's value
// wins on an equal id, as for build).
func auditSecrets(o auditOptions) (*secret.Set, error) {
	var specs []secret.Spec
	for _, s := range o.secrets {
		sp, err := secret.ParseSpec(s)
		if err != nil {
			return nil, fmt.Errorf("parsing --secret: %w", err)
		}
		specs = append(specs, sp)
	}
	return builder.LoadSecrets(builder.SecretInputs{Specs: specs, EnvFiles: o.envFiles})
}

// auditSource finds the image to audit: hush's store, an OCI layout, a docker archive or
// a registry (reached like build and push reach it).
type auditSource struct {
	g        *globals
	registry registryFlags
	logs     io.Writer // generator and helper output
	runImage registry.ImageRunner
}

// scan resolves ref (oci:DIR, docker-archive:FILE, store name or ID, registry
// reference) and scans it.
func (a auditSource) scan(ctx context.Context, ref string, values map[string][]byte, opts audit.Options) (*audit.Report, error) {
	switch {
	case strings.HasPrefix(ref, "oci:"):
		idx, err := layout.ImageIndexFromPath(strings.TrimPrefix(ref, "oci:"))
		if err != nil {
			return nil, fmt.Errorf("opening OCI layout: %w", err)
		}
		return audit.ScanIndex(ctx, idx, values, opts)
	case strings.HasPrefix(ref, "docker-archive:"):
		img, err := tarball.ImageFromPath(strings.TrimPrefix(ref, "docker-archive:"), nil)
		if err != nil {
			return nil, fmt.Errorf("opening docker archive: %w", err)
		}
		return audit.Scan(ctx, img, values, opts)
	}
	store, err := a.g.store()
	if err != nil {
		return nil, err
	}
	img, _, release, err := store.ImageHeld(ref) // no rmi or prune takes a layer mid-audit
	if err == nil {
		defer release()
		return audit.Scan(ctx, img, values, opts)
	}
	if !errors.Is(err, image.ErrNotFound) {
		return nil, err
	}
	if _, perr := name.ParseReference(ref); perr != nil {
		return nil, err
	}
	desc, err := a.fetch(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("not in the store, and %w", err)
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, err
		}
		return audit.ScanIndex(ctx, idx, values, opts)
	}
	rimg, err := desc.Image()
	if err != nil {
		return nil, err
	}
	return audit.Scan(ctx, rimg, values, opts)
}

// fetch gets ref from its registry with the registry flags' credentials and transport.
func (a auditSource) fetch(ctx context.Context, ref string) (*remote.Descriptor, error) {
	kc, err := a.registry.keychain(a.g.root, a.logs, a.runImage)
	if err != nil {
		return nil, err
	}
	ropts, err := a.registry.options()
	if err != nil {
		return nil, err
	}
	return registry.Get(ctx, ref, kc, ropts...)
}
