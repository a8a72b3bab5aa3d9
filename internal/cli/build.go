package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/outfile"
	"github.com/hush-build/hush/internal/progress"
	"github.com/hush-build/hush/internal/secret"
	"github.com/hush-build/hush/internal/sink"
	"github.com/hush-build/hush/internal/sshagent"
)

type buildOptions struct {
	file         string
	tags         []string
	buildArgs    []string
	target       string
	noCache      bool
	labels       []string
	outputs      []string
	progress     string
	iidfile      string
	metadataFile string
	network      string
	runtime      string
	quiet        bool
	contextPath  string
	secrets      []string
	ssh          []string
	knownHosts   string
	push         bool
	audit        string
	registry     registryFlags
	secretFiles  []string
	argFiles     []string
	cache        cacheFlags
}

func newBuildCmd(g *globals) *cobra.Command {
	o := &buildOptions{}
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH|-",
		Short: "Build an image from a Dockerfile",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.contextPath = args[0]
			return runBuild(cmd.Context(), g, o, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.file, "file", "f", "", `Name of the Dockerfile (default: "PATH/Dockerfile")`)
	f.StringArrayVarP(&o.tags, "tag", "t", nil, `Name and optionally a tag (format: "name:tag")`)
	f.StringArrayVar(&o.buildArgs, "build-arg", nil, "Set build-time variables")
	f.StringVar(&o.target, "target", "", "Set the target build stage to build")
	f.BoolVar(&o.noCache, "no-cache", false, "Do not use cache when building the image")
	f.StringArrayVar(&o.labels, "label", nil, "Set metadata for an image")
	f.StringArrayVarP(&o.outputs, "output", "o", nil, `Output destination (format: "type=local,dest=path"; types: local, tar, oci, docker, image, registry; dest=- or "-o -" streams to stdout)`)
	f.StringVar(&o.progress, "progress", "auto", `Set type of progress output ("auto", "plain", "tty", "quiet")`)
	f.StringVar(&o.iidfile, "iidfile", "", "Write the image ID to a file")
	f.StringVar(&o.metadataFile, "metadata-file", "", "Write build result metadata to a file")
	f.StringVar(&o.network, "network", "default", `Set the networking mode for the "RUN" instructions during build ("default" = host, "host", "none")`)
	f.StringVar(&o.runtime, "runtime", "", `OCI runtime for RUN steps ("crun" or "runc"; default: crun when installed)`)
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress the build output and print image ID on success (not when --output streams to stdout)")
	f.StringArrayVar(&o.ssh, "ssh", nil, `SSH agent socket or keys to expose to the build (format: "default|<id>[=<socket>|<key>[,<key>]]")`)
	f.BoolVar(&o.push, "push", false, `Shorthand for "--output=type=registry" (push every -t name)`)
	o.registry.register(f)
	o.cache.register(f)
	f.StringVar(&o.audit, "audit", "fail", `After the build, search the image and hush's state for every secret value given ("fail": a leak fails the build and nothing is published; "warn"; "off")`)
	f.StringArrayVar(&o.secretFiles, "secret-env-file", nil, "Read secrets from an env file (KEY=value lines, plain or age-encrypted): each KEY becomes a secret id")
	f.StringArrayVar(&o.argFiles, "build-arg-file", nil, "Read build args from an env file (plain or age-encrypted); build args persist in the image history")
	f.StringVar(&o.knownHosts, "ssh-known-hosts", "", `known_hosts file that ssh Git sources are checked against (default: ~/.ssh/known_hosts)`)
	f.StringArrayVar(&o.secrets, "secret", nil, `Secret to expose to the build (format: "id=mysecret[,src=/local/secret|,env=VAR][,rebuild-on-change]")`)
	return cmd
}

// buildFlags are the build's flag values, parsed and checked before any work starts.
type buildFlags struct {
	outs         []sink.Output
	args, labels map[string]string
	secrets      []secret.Spec
	ssh          []sshagent.Spec
	cache        cacheSpecs
	fpKey        *secret.FingerprintKey
}

// validate checks flag values before any work starts.
func (o *buildOptions) validate(stdout io.Writer) (*buildFlags, error) {
	outs, err := o.parseOutputs(stdout)
	if err != nil {
		return nil, err
	}
	if outs, err = o.pushOutput(outs); err != nil {
		return nil, err
	}
	p := &buildFlags{outs: outs}
	if p.args, err = keyValues("--build-arg", o.buildArgs, true); err != nil {
		return nil, err
	}
	if p.labels, err = keyValues("--label", o.labels, false); err != nil {
		return nil, err
	}
	if err := o.checkModes(); err != nil {
		return nil, err
	}
	for _, f := range o.secrets {
		sp, err := secret.ParseSpec(f)
		if err != nil {
			return nil, fmt.Errorf("--secret %q: %w", f, err)
		}
		p.secrets = append(p.secrets, sp)
	}
	if p.ssh, err = sshagent.ParseSpecs(o.ssh); err != nil {
		return nil, fmt.Errorf("--ssh: %w", err)
	}
	if p.cache, err = parseCacheEntries(o.cache.from, o.cache.to); err != nil {
		return nil, err
	}
	return p, nil
}

// pushOutput applies --push: the image output, pushed.
func (o *buildOptions) pushOutput(outs []sink.Output) ([]sink.Output, error) {
	if o.push {
		if len(outs) == 0 {
			outs = append(outs, sink.Output{Type: "image"})
		}
		if outs[0].Type != "image" {
			return nil, fmt.Errorf("--push cannot be combined with --output type=%s", outs[0].Type)
		}
		outs[0].Push = true
	}
	if len(outs) == 1 && outs[0].Push && len(o.tags) == 0 && outs[0].Name == "" {
		return nil, fmt.Errorf("--push: name the image with -t NAME (or --output type=registry,name=NAME)")
	}
	return outs, nil
}

// keyValues parses KEY=VALUE flags; with fromEnv a bare KEY takes the environment's value
// (and is left out when the variable is unset), as docker does for --build-arg.
func keyValues(flag string, values []string, fromEnv bool) (map[string]string, error) {
	out := map[string]string{}
	for _, a := range values {
		k, v, ok := strings.Cut(a, "=")
		if k == "" {
			return nil, fmt.Errorf("%s %q: want KEY=VALUE", flag, a)
		}
		if !ok && fromEnv {
			ev, set := os.LookupEnv(k)
			if !set {
				continue
			}
			v = ev
		}
		out[k] = v
	}
	return out, nil
}

// checkModes checks the flags that name one of a few modes.
func (o *buildOptions) checkModes() error {
	switch o.audit {
	case "fail", "warn", "off":
	default:
		return fmt.Errorf("--audit %q: want fail, warn or off", o.audit)
	}
	switch o.network {
	case "default", "host", "none":
	default:
		return fmt.Errorf("--network %q: want default, host or none", o.network)
	}
	for _, t := range o.tags {
		if _, err := image.NormalizeName(t); err != nil {
			return fmt.Errorf("--tag %q: %w", t, err)
		}
	}
	if o.quiet {
		o.progress = progress.ModeQuiet
	}
	if _, err := progress.New(io.Discard, o.progress); err != nil {
		return fmt.Errorf("--progress: %w", err)
	}
	return nil
}

// parseOutputs parses --output and checks the destinations of --output,
// --iidfile and --metadata-file on disk. When the output streams to stdout,
// neither file may be stdout too.
func (o *buildOptions) parseOutputs(stdout io.Writer) ([]sink.Output, error) {
	var outs []sink.Output
	for _, s := range o.outputs {
		out, err := sink.Parse(s)
		if err != nil {
			return nil, err
		}
		if err := out.Check(stdout); err != nil {
			return nil, err
		}
		outs = append(outs, out)
	}
	if len(outs) > 1 {
		return nil, fmt.Errorf("--output: only one output is supported, got %d", len(outs))
	}
	for _, f := range []struct{ flag, path string }{{"--iidfile", o.iidfile}, {"--metadata-file", o.metadataFile}} {
		if f.path == "" {
			continue
		}
		if fi, err := os.Stat(f.path); err == nil && fi.IsDir() {
			return nil, fmt.Errorf("%s %s: is a directory, want a file", f.flag, f.path)
		}
		if len(outs) == 1 && outs[0].ToStdout() && sink.SameAsStdout(f.path, stdout) {
			return nil, fmt.Errorf("%s %s: stdout already carries the --output %q archive; write it to a file", f.flag, f.path, outs[0].Spec)
		}
	}
	return outs, nil
}

// runBuild wires the flags to one builder.Run: secrets loaded once and masked in
// everything printed, registry access, sinks, then the image ID files.
func runBuild(ctx context.Context, g *globals, o *buildOptions, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	p, err := o.validate(stdout)
	if err != nil {
		return err
	}
	if handled, err := g.enterNamespace(); handled || err != nil {
		return err
	}
	secrets, err := builder.LoadSecrets(builder.SecretInputs{Specs: p.secrets, EnvFiles: o.secretFiles, SSH: p.ssh})
	if err != nil {
		return err
	}
	defer secrets.Wipe()
	if err := addArgFiles(p.args, o.argFiles); err != nil {
		return err
	}
	if p.fpKey, err = loadFingerprintKey(o.cache.fingerprintKey); err != nil {
		return err
	}
	red := secrets.Masks().Writer(stderr)
	defer red.Close()
	stderr = red
	defer func() { err = redactError(err, secrets) }()
	b, err := g.openBuilder(o.runtime)
	if err != nil {
		return err
	}
	defer b.Close()
	pub, err := o.build(ctx, b, p, secrets, stdin, stdout, stderr)
	if err != nil {
		return err
	}
	// -q prints the ID on stdout, unless stdout carries the output archive
	// (buildx would append it to the archive; use --iidfile for it).
	if o.quiet && !(len(p.outs) == 1 && p.outs[0].ToStdout()) {
		fmt.Fprintln(stdout, pub.ID)
	}
	return writeIDFiles(o, pub.ID, pub.Digest, secrets)
}

// build makes the request and runs it under a progress display.
func (o *buildOptions) build(ctx context.Context, b *builder.Builder, p *buildFlags, secrets *secret.Set, stdin io.Reader, stdout, stderr io.Writer) (*builder.Published, error) {
	reg, push, err := o.registry.access(b, stderr)
	if err != nil {
		return nil, err
	}
	ss, err := sink.Plan(p.outs, o.tags, b.Images, stdout, push)
	if err != nil {
		return nil, err
	}
	disp, err := progress.New(stderr, o.progress, progress.WithTerminal(os.Stderr))
	if err != nil {
		return nil, err
	}
	if len(o.argFiles) > 0 {
		disp.Warn("--build-arg-file: build args persist in the image history (docker history shows them); use --secret-env-file for credentials")
	}
	req := builder.Request{Context: o.contextPath, Dockerfile: o.file, Stdin: stdin,
		BuildArgs: p.args, Labels: p.labels, Target: o.target, NoCache: o.noCache, Network: o.network,
		Secrets: secrets, SSH: p.ssh, KnownHosts: o.knownHosts, Audit: o.audit, FingerprintKey: p.fpKey,
		Registry: reg, Sinks: sinks(ss), Progress: disp, Log: stderr}
	p.cache.apply(&req, sink.PushNames(p.outs, o.tags))
	pub, err := b.Run(ctx, req)
	if cerr := disp.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return pub, err
}

// addArgFiles adds each KEY=value of the --build-arg-file files to args (--build-arg wins).
func addArgFiles(args map[string]string, files []string) error {
	for _, f := range files {
		vars, err := secret.ReadEnvFile(f, os.LookupEnv)
		if err != nil {
			return fmt.Errorf("--build-arg-file: %w", err)
		}
		for _, v := range vars {
			if _, set := args[v.Key]; !set {
				args[v.Key] = string(v.Value)
			}
			clear(v.Value)
		}
	}
	return nil
}

// redactError masks secret values in an error's text (keeping exit codes).
func redactError(err error, secrets *secret.Set) error {
	if err == nil {
		return nil
	}
	return maskError(err, secrets.Masks())
}

// maskError masks the values of masks in an error's text (keeping exit codes).
func maskError(err error, masks *secret.Masks) error {
	var ee *ExitError
	if err == nil || errors.As(err, &ee) {
		return err
	}
	if msg := masks.Redact([]byte(err.Error())); string(msg) != err.Error() {
		return errors.New(string(msg))
	}
	return err
}

// writeIDFiles writes --iidfile and --metadata-file through outfile.Write:
// a FIFO, a device or /dev/stdout is written through, a regular file
// replaced atomically.
func writeIDFiles(o *buildOptions, id, digest v1.Hash, secrets *secret.Set) error {
	if o.iidfile != "" {
		if err := outfile.Write(o.iidfile, 0o644, writeBytes([]byte(id.String()))); err != nil {
			return fmt.Errorf("--iidfile: %w", err)
		}
	}
	if o.metadataFile != "" {
		data, _ := json.MarshalIndent(imageMetadata(id, digest, o.tags), "", "  ")
		if err := outfile.Write(o.metadataFile, 0o644, writeBytes(secrets.Redact(data))); err != nil {
			return fmt.Errorf("--metadata-file: %w", err)
		}
	}
	return nil
}

// imageMetadata is buildx's build result metadata of an image.
func imageMetadata(id, digest v1.Hash, tags []string) map[string]any {
	md := map[string]any{"containerimage.config.digest": id.String(), "containerimage.digest": digest.String()}
	if len(tags) > 0 {
		var names []string
		for _, t := range tags {
			n, _ := image.NormalizeName(t)
			names = append(names, n)
		}
		md["image.name"] = strings.Join(names, ",")
	}
	return md
}

func writeBytes(b []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	}
}
