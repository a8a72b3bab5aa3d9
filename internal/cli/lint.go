package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/lint"
	"github.com/hush-build/hush/internal/secret"
)

// Exit codes of `hush lint` (docs/lint.md).
const (
	lintExitFindings = 1 // at least one finding of severity error
	lintExitUsage    = 2 // bad flags, unreadable or unparsable Dockerfile
)

type lintOptions struct {
	file        string
	contextPath string
	secrets     []string
	buildArgs   []string
	format      string
}

func newLintCmd(*globals) *cobra.Command {
	o := &lintOptions{}
	cmd := &cobra.Command{
		Use:   "lint [-f Dockerfile] [PATH]",
		Short: "Check a Dockerfile for unsafe secret handling",
		Long: `Check a Dockerfile, its build args, the supplied secrets and the build context at PATH
(default ".", after .dockerignore) for unsafe secret handling. Rules: docs/lint.md.
Exit status: 0 no error findings (warnings may be printed), 1 error findings, 2 usage or
parse error.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.MaximumNArgs(1)(cmd, args); err != nil {
				return lintUsageError(cmd.ErrOrStderr(), err)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.contextPath = "."
			if len(args) == 1 {
				o.contextPath = args[0]
			}
			return runLint(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return lintUsageError(cmd.ErrOrStderr(), err) })
	f := cmd.Flags()
	f.StringVarP(&o.file, "file", "f", "", `Name of the Dockerfile (default: "PATH/Dockerfile")`)
	f.StringArrayVar(&o.secrets, "secret", nil, `Secret the build will get, to find its value in build args and ENV (format: "id=mysecret[,src=/local/secret|,env=VAR]")`)
	f.StringArrayVar(&o.buildArgs, "build-arg", nil, "Build-time variable the build will get")
	f.StringVar(&o.format, "format", "text", `Output format ("text" or "json")`)
	return cmd
}

// lintUsageError reports err and makes the process exit with lintExitUsage.
func lintUsageError(w io.Writer, err error) error {
	fmt.Fprintf(w, "ERROR: %v\n", err)
	return &ExitError{Code: lintExitUsage}
}

func runLint(_ context.Context, o *lintOptions, stdout, stderr io.Writer) error {
	if o.format != "text" && o.format != "json" {
		return lintUsageError(stderr, fmt.Errorf("--format %q: want text or json", o.format))
	}
	args := map[string]string{}
	for _, a := range o.buildArgs {
		k, v, ok := strings.Cut(a, "=")
		if k == "" {
			return lintUsageError(stderr, fmt.Errorf("--build-arg %q: want KEY[=VALUE]", a))
		}
		if !ok {
			ev, set := os.LookupEnv(k)
			if !set {
				continue
			}
			v = ev
		}
		args[k] = v
	}
	var specs []secret.Spec
	for _, f := range o.secrets {
		sp, err := secret.ParseSpec(f)
		if err != nil {
			return lintUsageError(stderr, fmt.Errorf("--secret %q: %w", f, err))
		}
		specs = append(specs, sp)
	}
	secrets, err := builder.LoadSecrets(builder.SecretInputs{Specs: specs})
	if err != nil {
		return lintUsageError(stderr, err)
	}
	defer secrets.Wipe()
	df, bctx, err := lint.Open(o.contextPath, o.file)
	if err != nil {
		return lintUsageError(stderr, err)
	}
	findings := lint.Check(df, lint.Options{Secrets: secrets.Values(), BuildArgs: args, Context: bctx})
	if err := writeFindings(stdout, o.format, findings); err != nil {
		return err
	}
	if lint.HasErrors(findings) {
		return &ExitError{Code: lintExitFindings}
	}
	return nil
}

func writeFindings(w io.Writer, format string, findings []lint.Finding) error {
	if format == "json" {
		if findings == nil {
			findings = []lint.Finding{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Findings []lint.Finding `json:"findings"`
		}{findings}); err != nil {
			return fmt.Errorf("writing findings: %w", err)
		}
		return nil
	}
	for _, f := range findings {
		if _, err := fmt.Fprintln(w, f.String()); err != nil {
			return fmt.Errorf("writing findings: %w", err)
		}
	}
	return nil
}
