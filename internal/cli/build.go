package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/progress"
	"github.com/hush-build/hush/internal/secret"
	"github.com/hush-build/hush/internal/secretfile"
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
	buildxFlags
	cache cacheFlags
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
	f.StringVar(&o.progress, "progress", "auto", `Set type of progress output ("auto", "none", "plain", "quiet", "rawjson", "tty"). Use plain to show container output`)
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
	o.buildxFlags.register(f)
	registerBuildCompletion(cmd)
	return cmd
}

// buildFlags are the build's flag values, parsed and checked before any work starts.
type buildFlags struct {
	outs         []sink.Output
	args, labels map[string]string
	secrets      []secret.Spec
	ssh          []sshagent.Spec
	privateArgs  map[string]bool // build args from an encrypted --build-arg-file
	buildxValues
	cache cacheSpecs
	fpKey *secret.FingerprintKey
}

// validate checks flag values before any work starts.
func (o *buildOptions) validate(stdout io.Writer) (*buildFlags, error) {
	outs, err := o.parseOutputs(stdout)
	if err != nil {
		return nil, err
	}
	if outs, err = o.shorthandOutputs(outs); err != nil {
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
	if p.buildxValues, err = o.buildxFlags.check(); err != nil {
		return nil, err
	}
	if p.cache, err = parseCacheEntries(o.cache.from, o.cache.to); err != nil {
		return nil, err
	}
	return p, nil
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
	// buildx: --progress=quiet is -q (the ID is printed), --progress=none prints nothing.
	if o.progress == progress.ModeQuiet {
		o.quiet = true
	}
	if o.quiet {
		if o.progress != progress.ModeAuto && o.progress != progress.ModeQuiet && o.progress != "" {
			return fmt.Errorf("progress=%s and quiet cannot be used together", o.progress)
		}
		o.progress = progress.ModeQuiet
	}
	if _, err := progress.New(io.Discard, o.progress); err != nil {
		return fmt.Errorf("--progress: %w", err)
	}
	return nil
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
	if p.privateArgs, err = addArgFiles(p.args, o.argFiles); err != nil {
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
	if p.call.Name != "" {
		return o.runCall(ctx, b, o.request(p, secrets, stdin, stderr), p.call, stdout)
	}
	pub, rep, err := o.build(ctx, b, p, secrets, stdin, stdout, stderr)
	if err != nil {
		return err
	}
	res := newBuildResult(pub, rep)
	// -q prints the ID on stdout, unless stdout carries the output archive
	// (buildx would append it to the archive; use --iidfile for it).
	if o.quiet && !toStdout(p.outs) {
		fmt.Fprintln(stdout, res.imageID())
	}
	return o.writeIDFiles(res, secrets)
}

// build makes the request and runs it under a progress display.
func (o *buildOptions) build(ctx context.Context, b *builder.Builder, p *buildFlags, secrets *secret.Set, stdin io.Reader, stdout, stderr io.Writer) (*builder.Published, *sink.Report, error) {
	reg, push, err := o.registry.access(b, stderr)
	if err != nil {
		return nil, nil, err
	}
	disp, err := progress.New(stderr, o.progress, progress.WithTerminal(os.Stderr))
	if err != nil {
		return nil, nil, err
	}
	ss, rep, err := sink.Plan(p.outs, o.tags, sink.Env{Store: b.Images, Stdout: stdout, Push: push,
		Load: loadIntoDocker, Annotations: p.annotations, Warn: disp.Warn, Platforms: len(p.platforms)})
	if err != nil {
		disp.Close()
		return nil, nil, err
	}
	if len(o.argFiles) > 0 {
		disp.Warn("--build-arg-file: build args persist in the image history (docker history shows them); use --secret-env-file for credentials")
	}
	req := o.request(p, secrets, stdin, stderr)
	req.Registry, req.Sinks, req.Progress = reg, sinks(ss), disp
	p.cache.apply(&req, sink.PushNames(p.outs, o.tags))
	pub, err := b.Run(ctx, req)
	if cerr := disp.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return pub, rep, err
}

// request is the build the flags describe, without its registry access, sinks and
// progress display.
func (o *buildOptions) request(p *buildFlags, secrets *secret.Set, stdin io.Reader, log io.Writer) builder.Request {
	return builder.Request{Context: o.contextPath, Dockerfile: o.file, Stdin: stdin,
		BuildArgs: p.args, Labels: p.labels, Target: o.target, NoCache: o.noCache, Network: o.network,
		NoCacheFilter: o.noCacheFilter, Pull: o.pull, Limits: p.limits, Allow: p.allow, Contexts: p.contexts,
		Secrets: secrets, SSH: p.ssh, KnownHosts: o.knownHosts, Audit: o.audit, Log: log,
		Provenance: p.provenance, PrivateArgs: p.privateArgs, MetadataProvenance: o.metadataProvenance(),
		Platforms: p.platforms, FingerprintKey: p.fpKey}
}

// metadataProvenance is buildx's BUILDX_METADATA_PROVENANCE (min unless disabled) when
// --metadata-file is written.
func (o *buildOptions) metadataProvenance() string {
	if o.metadataFile == "" {
		return ""
	}
	v := os.Getenv("BUILDX_METADATA_PROVENANCE")
	if v == "max" {
		return "max"
	}
	if b, err := strconv.ParseBool(v); v == "disabled" || (err == nil && !b) {
		return ""
	}
	return "min"
}

// addArgFiles adds each KEY=value of the --build-arg-file files to args (--build-arg
// wins) and returns the keys it took from an encrypted file: their values never go into
// a provenance attestation.
func addArgFiles(args map[string]string, files []string) (map[string]bool, error) {
	private := map[string]bool{}
	for _, f := range files {
		enc, err := encryptedFile(f)
		if err != nil {
			return nil, fmt.Errorf("--build-arg-file: %w", err)
		}
		vars, err := secret.ReadEnvFile(f, os.LookupEnv)
		if err != nil {
			return nil, fmt.Errorf("--build-arg-file: %w", err)
		}
		for _, v := range vars {
			if _, set := args[v.Key]; !set {
				args[v.Key] = string(v.Value)
				private[v.Key] = enc
			}
			clear(v.Value)
		}
	}
	return private, nil
}

// encryptedFile reports whether the file at path is age-encrypted, by its header.
func encryptedFile(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return false, err
	}
	return secretfile.IsEncrypted(head[:n]), nil
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
