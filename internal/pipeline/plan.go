package pipeline

import (
	"context"
	"fmt"
	"io"

	"github.com/hush-build/hush/internal/codeship"
)

// Options are one `hush steps` or `hush run`.
type Options struct {
	Files codeship.Files
	// KeyPath is the Jet AES key ("" means codeship.aes beside the services file).
	KeyPath string
	// Tag is the build tag the steps' tag/exclude filters see ("" means the branch).
	Tag  string
	Push bool
	// Network is default (a user-mode network), host or none.
	Network string
	// Audit is fail, warn or off.
	Audit string
	CI    CI
}

// load reads the pipeline and the build's variables, and settles the build tag.
func (o *Options) load(ctx context.Context) (*codeship.Pipeline, codeship.Vars, error) {
	p, err := codeship.Load(o.Files)
	if err != nil {
		return nil, codeship.Vars{}, err
	}
	vars := Vars(ctx, p.Dir, o.CI)
	if o.Tag == "" {
		o.Tag = vars.Branch
	}
	return p, vars, nil
}

// DryRun prints the plan (format text or json) and runs nothing.
func DryRun(ctx context.Context, o Options, format string, w io.Writer) error {
	p, vars, err := o.load(ctx)
	if err != nil {
		return err
	}
	pl, err := p.Plan(o.Tag, o.Push, vars)
	if err != nil {
		return err
	}
	switch format {
	case "json":
		return pl.WriteJSON(w)
	case "text", "":
		return pl.WriteText(w)
	}
	return fmt.Errorf("--format %q: want text or json", format)
}
