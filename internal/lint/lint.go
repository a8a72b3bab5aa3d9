package lint

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/hush-build/hush/internal/buildcontext"
	"github.com/hush-build/hush/internal/dockerfile"
)

// Severity is how bad a finding is. `hush lint` exits 1 when any finding is an Error.
type Severity string

// Severities.
const (
	Warning Severity = "warning"
	Error   Severity = "error"
)

// Rule names. SecretsUsedInArgOrEnv is BuildKit's; the rest are hush's (docs/lint.md).
const (
	RuleSecretsUsedInArgOrEnv   = "SecretsUsedInArgOrEnv"
	RuleSecretInBuildArg        = "SecretInBuildArg"
	RuleSecretInEnv             = "SecretInEnv"
	RuleHardcodedCredential     = "HardcodedCredential"
	RuleCopySecretFile          = "CopySecretFile"
	RuleSecretTargetNotAbsolute = "SecretTargetNotAbsolute"
	RuleInvalidCheckDirective   = "InvalidCheckDirective"
	RuleContextUnreadable       = "ContextUnreadable"
)

// Finding is one problem. Message never holds a secret value or a credential.
type Finding struct {
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Message  string   `json:"message"`
}

func (f Finding) String() string {
	return fmt.Sprintf("%s:%d: %s: %s: %s", f.File, f.Line, f.Severity, f.Rule, f.Message)
}

// Options are the inputs of a build that the checks compare the Dockerfile against.
type Options struct {
	// Secrets maps secret id to value (secret.Store.Values()). Check keeps no copy.
	Secrets map[string][]byte
	// BuildArgs are the --build-arg values.
	BuildArgs map[string]string
	// Context is the opened build context; nil skips the CopySecretFile rule.
	Context *buildcontext.Context
}

// HasErrors reports whether any finding has severity Error.
func HasErrors(fs []Finding) bool {
	return slices.ContainsFunc(fs, func(f Finding) bool { return f.Severity == Error })
}

// Check runs every rule over f and returns the findings sorted by line, then rule.
// Rules skipped by a `# check=skip=...` directive (at the top of the file, or in the
// comment right above an instruction) report nothing; `check=error=true` turns every
// warning into an error, as BuildKit fails the build on warnings then.
//
// Check does not modify f (RUN --mount options are expanded on a fresh parse of the RUN:
// expanding a command edits it in place).
func Check(f *dockerfile.File, opts Options) []Finding {
	c := &checker{f: f, opts: opts, secrets: newSecretIndex(opts.Secrets)}
	defer c.secrets.wipe()
	c.base = linter.New(&linter.Config{})
	if v, _, loc, ok := parser.ParseDirective("check", f.Source); ok {
		cfg, err := linter.ParseLintOptions(v)
		if err != nil {
			line := 0
			if len(loc) > 0 {
				line = loc[0].Start.Line
			}
			c.add(Finding{Rule: RuleInvalidCheckDirective, Severity: Error, File: f.Name, Line: line,
				Message: fmt.Sprintf("parsing check directive: %v", err)})
		} else {
			c.base = linter.New(cfg)
		}
	}
	c.run()
	slices.SortStableFunc(c.findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Message, b.Message))
	})
	return c.findings
}

type checker struct {
	f        *dockerfile.File
	opts     Options
	secrets  *secretIndex
	base     *linter.Linter
	findings []Finding
	files    *contextFiles // walked once, on the first COPY or ADD from the context
}

func (c *checker) add(f Finding) { c.findings = append(c.findings, f) }

// report adds a finding for cmd unless its rule is skipped there.
func (c *checker) report(cmd instructions.Command, rule string, sev Severity, format string, args ...any) {
	l := c.base
	if cmd != nil {
		l = l.WithMergedConfigFromComments(cmd.Comments())
	}
	if _, skip := l.SkippedRules[rule]; skip || l.SkipAll {
		return
	}
	if l.ReturnAsError {
		sev = Error
	}
	line := 0
	if cmd != nil {
		line = dockerfile.Line(cmd)
	}
	c.add(Finding{Rule: rule, Severity: sev, File: c.f.Name, Line: line, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) run() {
	global := newVars(c.f.EscapeToken)
	declared := map[string]instructions.Command{} // first ARG declaring each name
	for i := range c.f.MetaArgs {
		cmd := &c.f.MetaArgs[i]
		c.checkArg(cmd, global, nil)
		for _, a := range cmd.Args {
			if _, ok := declared[a.Key]; !ok {
				declared[a.Key] = cmd
			}
		}
	}
	for _, st := range c.f.Stages {
		v := newVars(c.f.EscapeToken)
		for _, cmd := range st.Commands {
			switch cmd := cmd.(type) {
			case *instructions.ArgCommand:
				c.checkArg(cmd, v, global)
				for _, a := range cmd.Args {
					if _, ok := declared[a.Key]; !ok {
						declared[a.Key] = cmd
					}
				}
			case *instructions.EnvCommand:
				c.checkEnv(cmd, v)
			case *instructions.LabelCommand:
				c.checkLabel(cmd, v)
			case *instructions.CopyCommand:
				if cmd.From == "" {
					c.checkCopy(cmd, "COPY", cmd.SourcePaths, cmd.ExcludePatterns, v)
				}
			case *instructions.AddCommand:
				c.checkCopy(cmd, "ADD", cmd.SourcePaths, cmd.ExcludePatterns, v)
			case *instructions.RunCommand:
				c.checkMounts(cmd, v)
			}
		}
	}
	c.checkBuildArgs(declared)
}

// checkMounts flags secret mounts whose target is not an absolute path. It expands a
// fresh parse of cmd: Expand rewrites a RUN's mounts in place, and the file is the build's.
func (c *checker) checkMounts(cmd *instructions.RunCommand, v *vars) {
	fresh, ok, err := c.f.Reparse(cmd)
	if err != nil || !ok {
		return // cannot happen: cmd is one of c.f's commands
	}
	run := fresh.(*instructions.RunCommand)
	if err := run.Expand(func(w string) (string, error) { return v.expand(w), nil }); err != nil {
		return // an invalid --mount fails planning, with a better message
	}
	for _, m := range instructions.GetMounts(run) {
		if m.Type != instructions.MountTypeSecret || m.Target == "" || strings.HasPrefix(m.Target, "/") {
			continue
		}
		why := "a relative target is resolved against WORKDIR, not where the tool looks for it"
		if strings.HasPrefix(m.Target, "~") {
			why = `"~" is not expanded: the secret lands in a directory literally named "~" under WORKDIR`
		}
		c.report(cmd, RuleSecretTargetNotAbsolute, Warning,
			"secret mount target %q is not absolute: %s; use an absolute path such as /root/%s",
			m.Target, why, strings.TrimPrefix(strings.TrimPrefix(m.Target, "~"), "/"))
	}
}

// Open reads and parses the Dockerfile at dockerfile ("" means CONTEXT/Dockerfile) and
// opens the context dir, with its .dockerignore, for Check.
func Open(contextDir, dockerfilePath string) (*dockerfile.File, *buildcontext.Context, error) {
	path := dockerfilePath
	if path == "" {
		path = filepath.Join(contextDir, "Dockerfile")
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading Dockerfile: %w", err)
	}
	df, err := dockerfile.Parse(path, bytes.NewReader(src))
	if err != nil {
		return nil, nil, err
	}
	bctx, err := buildcontext.Open(contextDir, dockerfilePath)
	if err != nil {
		return nil, nil, err
	}
	return df, bctx, nil
}
