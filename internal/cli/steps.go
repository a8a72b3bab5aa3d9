package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/pipeline"
)

type stepsOptions struct {
	pipe     pipeline.Options
	dir      string
	dryRun   bool
	format   string
	progress string
	runtime  string
	registry registryFlags
}

func newStepsCmd(g *globals) *cobra.Command {
	o := &stepsOptions{}
	cmd := &cobra.Command{
		Use:   "steps [OPTIONS] [DIR]",
		Short: "Run a Codeship Pro pipeline (codeship-services.yml and codeship-steps.yml) like jet steps",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.pipe.Files.Dir = "."
			if len(args) == 1 {
				o.pipe.Files.Dir = args[0]
			}
			if err := o.check(); err != nil {
				return err
			}
			if o.dryRun {
				return pipeline.DryRun(cmd.Context(), o.pipe, o.format, cmd.OutOrStdout())
			}
			return runPipeline(cmd, g, o, nil)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.pipe.Tag, "tag", "", "the build tag that steps' tag: and exclude: match (default: the current branch)")
	f.BoolVar(&o.pipe.Push, "push", false, "run push steps (skipped otherwise, as in jet steps)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the plan and run nothing")
	f.StringVar(&o.format, "format", "text", `plan format with --dry-run ("text" or "json")`)
	addPipelineFlags(cmd, o)
	f.StringVar(&o.pipe.Files.Steps, "steps-path", "", "the steps file (default: codeship-steps.yml, else codeship-steps.json, in DIR)")
	return cmd
}

// addPipelineFlags adds the flags hush steps and hush run share.
func addPipelineFlags(cmd *cobra.Command, o *stepsOptions) {
	f := cmd.Flags()
	f.StringVar(&o.pipe.Files.Services, "services-path", "", "the services file (default: codeship-services.yml|.yaml|.json, else docker-compose.yml, in DIR)")
	f.StringVar(&o.pipe.KeyPath, "key-path", "", "the project's AES key for .encrypted files (default: codeship.aes beside the services file)")
	f.StringVar(&o.pipe.CI.Branch, "ci-branch", "", "CI_BRANCH and {{.Branch}} (default: the current git branch)")
	f.StringVar(&o.pipe.CI.CommitID, "ci-commit-id", "", "CI_COMMIT_ID and {{.CommitID}} (default: git HEAD)")
	f.StringVar(&o.pipe.CI.CommitMessage, "ci-commit-message", "", "CI_COMMIT_MESSAGE and {{.CommitMessage}} (default: HEAD's message)")
	f.StringVar(&o.pipe.CI.CommitDescription, "ci-commit-description", "", "CI_COMMIT_DESCRIPTION and {{.CommitDescription}} (default: git describe --abbrev=1 --tags --always)")
	f.StringVar(&o.pipe.CI.CommitterName, "ci-committer-name", "", "CI_COMMITTER_NAME (default: HEAD's committer)")
	f.StringVar(&o.pipe.CI.CommitterEmail, "ci-committer-email", "", "CI_COMMITTER_EMAIL (default: HEAD's committer)")
	f.StringVar(&o.pipe.CI.CommitterUsername, "ci-committer-username", "", "CI_COMMITTER_USERNAME")
	f.StringVar(&o.pipe.CI.BuildID, "ci-build-id", "", "CI_BUILD_ID (default: random)")
	f.StringVar(&o.pipe.CI.ProjectID, "ci-project-id", "", "CI_PROJECT_ID")
	f.StringVar(&o.pipe.CI.RepoName, "ci-repo-name", "", "CI_REPO_NAME (default: the repository's directory name)")
	f.StringVar(&o.pipe.Network, "network", "default", `network of the containers: "default" (their own network namespace per step, outbound through pasta or slirp4netns), "host" or "none"`)
	f.StringVar(&o.pipe.Audit, "audit", "fail", `after each service build, search its image for every secret value ("fail": a leak fails the pipeline; "warn": Codeship's behaviour; "off")`)
	f.StringVar(&o.progress, "progress", "auto", `build progress output ("auto", "plain", "tty", "quiet")`)
	f.StringVar(&o.runtime, "runtime", "", `OCI runtime ("crun" or "runc"; default: crun when installed)`)
	o.registry.register(f)
}

// check checks the flags that name one of a few modes.
func (o *stepsOptions) check() error {
	switch o.pipe.Network {
	case "default", "host", "none":
	default:
		return fmt.Errorf("--network %q: want default, host or none", o.pipe.Network)
	}
	switch o.pipe.Audit {
	case "fail", "warn", "off":
	default:
		return fmt.Errorf("--audit %q: want fail, warn or off", o.pipe.Audit)
	}
	switch o.format {
	case "text", "json":
	default:
		return fmt.Errorf("--format %q: want text or json", o.format)
	}
	return nil
}

// runPipeline runs the pipeline (hush steps), or one service (hush run) when service is
// set, inside hush's private namespaces.
func runPipeline(cmd *cobra.Command, g *globals, o *stepsOptions, service []string) error {
	if handled, err := g.enterNamespace(); handled || err != nil {
		return err
	}
	opts, err := o.registry.options()
	if err != nil {
		return err
	}
	fpKey, err := loadFingerprintKey("")
	if err != nil {
		return err
	}
	env := pipeline.Env{Root: g.root, Runtime: o.runtime, Registry: opts, Insecure: o.registry.insecure,
		Progress: o.progress, Terminal: os.Stderr, Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr(), FingerprintKey: fpKey}
	if len(service) == 0 {
		err := pipeline.Steps(cmd.Context(), env, o.pipe)
		if errors.Is(err, pipeline.ErrFailed) {
			return &ExitError{Code: 1}
		}
		return err
	}
	err = pipeline.Run(cmd.Context(), env, o.pipe, service[0], service[1:])
	if code, ok := builder.ExitCode(err); ok {
		return &ExitError{Code: code}
	}
	return err
}

func newRunCmd(g *globals) *cobra.Command {
	o := &stepsOptions{format: "text"}
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] SERVICE [COMMAND...]",
		Short: "Run one service of a Codeship Pro pipeline with its linked services, like jet run",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.pipe.Files.Dir = o.dir
			if err := o.check(); err != nil {
				return err
			}
			return runPipeline(cmd, g, o, args)
		},
	}
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringVar(&o.dir, "dir", ".", "the pipeline's directory (where the services file is)")
	addPipelineFlags(cmd, o)
	return cmd
}
