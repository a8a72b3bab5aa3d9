package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hush-build/hush/internal/bake"
	"github.com/hush-build/hush/internal/progress"
)

type bakeOptions struct {
	files        []string
	overrides    []string
	vars         []string
	allow        []string
	print        bool
	list         string
	push         bool
	noCache      bool
	noCacheSet   bool
	progress     string
	metadataFile string
	runtime      string
	audit        string
	registry     registryFlags
}

func newBakeCmd(g *globals) *cobra.Command {
	o := &bakeOptions{}
	cmd := &cobra.Command{
		Use:   "bake [OPTIONS] [TARGET...]",
		Short: "Build from a file",
		RunE: func(cmd *cobra.Command, args []string) error {
			o.noCacheSet = cmd.Flags().Changed("no-cache")
			return runBake(cmd.Context(), g, o, args, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.files, "file", "f", nil, "Build definition file")
	f.StringArrayVar(&o.overrides, "set", nil, `Override target value (e.g., "targetpattern.key=value")`)
	f.StringArrayVar(&o.vars, "var", nil, `Set a variable value (e.g., "name=value")`)
	f.StringArrayVar(&o.allow, "allow", nil, `Allow build to access specified resources ("network.host", "ssh", "fs=PATH", "fs.read=PATH", "fs.write=PATH")`)
	f.BoolVar(&o.print, "print", false, "Print the options without building")
	f.StringVar(&o.list, "list", "", `List targets or variables ("targets", "variables", "type=targets,format=json")`)
	f.BoolVar(&o.push, "push", false, `Shorthand for "--set=*.output=type=registry"`)
	f.BoolVar(&o.noCache, "no-cache", false, "Do not use cache when building the image")
	f.StringVar(&o.progress, "progress", "auto", `Set type of progress output ("auto", "plain", "tty", "quiet")`)
	f.StringVar(&o.metadataFile, "metadata-file", "", "Write build result metadata to a file")
	f.StringVar(&o.runtime, "runtime", "", `OCI runtime for RUN steps ("crun" or "runc"; default: crun when installed)`)
	f.StringVar(&o.audit, "audit", "fail", `After each build, search its image and hush's state for every secret value given ("fail", "warn", "off")`)
	o.registry.register(f)
	return cmd
}

// bakeOverrides are --set plus what --push and --no-cache mean, as buildx adds them.
func (o *bakeOptions) bakeOverrides() []string {
	out := append([]string(nil), o.overrides...)
	if o.push {
		out = append(out, "*.push=true")
	}
	if o.noCacheSet {
		out = append(out, fmt.Sprintf("*.no-cache=%t", o.noCache))
	}
	return out
}

// bakeEnv is where definitions read variables: this process's environment and --var.
func (o *bakeOptions) bakeEnv() (bake.Env, error) {
	vars := map[string]string{}
	for _, v := range o.vars {
		if v == "" {
			continue
		}
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return bake.Env{}, fmt.Errorf("--var %q: want name=value", v)
		}
		vars[k] = val
	}
	return bake.Env{Lookup: os.LookupEnv, Environ: os.Environ, Getwd: os.Getwd, Defaults: bake.DefaultVars(), Vars: vars}, nil
}

func (o *bakeOptions) check() error {
	if o.print && o.list != "" {
		return errors.New("--print and --list are mutually exclusive")
	}
	switch o.audit {
	case "fail", "warn", "off":
	default:
		return fmt.Errorf("--audit %q: want fail, warn or off", o.audit)
	}
	if _, err := progress.New(io.Discard, o.progress); err != nil {
		return fmt.Errorf("--progress: %w", err)
	}
	return nil
}

// runBake resolves the definition and prints it (--print, --list) or builds its targets.
func runBake(ctx context.Context, g *globals, o *bakeOptions, targets []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if err := o.check(); err != nil {
		return err
	}
	env, err := o.bakeEnv()
	if err != nil {
		return err
	}
	opts := bake.Options{Files: o.files, Stdin: stdin, Targets: targets, Overrides: o.bakeOverrides(), Env: env}
	if o.list != "" {
		return listBake(opts, o.list, stdout)
	}
	if o.print {
		d, err := bake.Load(opts)
		if err != nil {
			return err
		}
		if err := checkSecretFiles(d); err != nil {
			return err
		}
		return d.Print(stdout)
	}
	if handled, err := g.enterNamespace(); handled || err != nil {
		return err
	}
	d, err := bake.Load(opts)
	if err != nil {
		return err
	}
	return buildBake(ctx, g, o, d, stdout, stderr)
}

// listBake prints the targets or variables (--list).
func listBake(opts bake.Options, list string, stdout io.Writer) error {
	typ, format, err := bake.ParseList(list)
	if err != nil {
		return fmt.Errorf("--list: %w", err)
	}
	_, c, res, err := bake.Read(opts)
	if err != nil {
		return err
	}
	if typ == "variables" {
		return bake.PrintVariables(stdout, format, res.Variables)
	}
	return bake.PrintTargets(stdout, format, c)
}
