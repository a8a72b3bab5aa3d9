package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/lint"
	"github.com/hush-build/hush/internal/outfile"
	"github.com/hush-build/hush/internal/progress"
	"github.com/hush-build/hush/internal/registry"
	"github.com/hush-build/hush/internal/scratch"
	"github.com/hush-build/hush/internal/secret"
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
	f.StringVar(&o.audit, "audit", "fail", `After the build, search the image and hush's state for every secret value given ("fail": a leak fails the build and nothing is published; "warn"; "off")`)
	f.StringArrayVar(&o.secretFiles, "secret-env-file", nil, "Read secrets from an env file (KEY=value lines, plain or age-encrypted): each KEY becomes a secret id")
	f.StringArrayVar(&o.argFiles, "build-arg-file", nil, "Read build args from an env file (plain or age-encrypted); build args persist in the image history")
	f.StringVar(&o.knownHosts, "ssh-known-hosts", "", `known_hosts file that ssh Git sources are checked against (default: ~/.ssh/known_hosts)`)
	f.StringArrayVar(&o.secrets, "secret", nil, `Secret to expose to the build (format: "id=mysecret[,src=/local/secret|,env=VAR][,rebuild-on-change]")`)
	return cmd
}

// validate checks flag values before any work starts.
func (o *buildOptions) validate(stdout io.Writer) ([]output, map[string]string, map[string]string, error) {
	outs, err := o.parseOutputs(stdout)
	if err != nil {
		return nil, nil, nil, err
	}
	if o.push {
		if len(outs) == 0 {
			outs = append(outs, output{Type: "image"})
		}
		if outs[0].Type != "image" {
			return nil, nil, nil, fmt.Errorf("--push cannot be combined with --output type=%s", outs[0].Type)
		}
		outs[0].Push = true
	}
	if len(outs) == 1 && outs[0].Push && len(o.tags) == 0 && outs[0].Name == "" {
		return nil, nil, nil, fmt.Errorf("--push: name the image with -t NAME (or --output type=registry,name=NAME)")
	}
	args := map[string]string{}
	for _, a := range o.buildArgs {
		k, v, ok := strings.Cut(a, "=")
		if k == "" {
			return nil, nil, nil, fmt.Errorf("--build-arg %q: want KEY[=VALUE]", a)
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
	labels := map[string]string{}
	for _, l := range o.labels {
		k, v, _ := strings.Cut(l, "=")
		if k == "" {
			return nil, nil, nil, fmt.Errorf("--label %q: want KEY=VALUE", l)
		}
		labels[k] = v
	}
	switch o.audit {
	case "fail", "warn", "off":
	default:
		return nil, nil, nil, fmt.Errorf("--audit %q: want fail, warn or off", o.audit)
	}
	switch o.network {
	case "default", "host", "none":
	default:
		return nil, nil, nil, fmt.Errorf("--network %q: want default, host or none", o.network)
	}
	for _, t := range o.tags {
		if _, err := image.NormalizeName(t); err != nil {
			return nil, nil, nil, fmt.Errorf("--tag %q: %w", t, err)
		}
	}
	if o.quiet {
		o.progress = progress.ModeQuiet
	}
	if _, err := progress.New(io.Discard, o.progress); err != nil {
		return nil, nil, nil, fmt.Errorf("--progress: %w", err)
	}
	return outs, args, labels, nil
}

// parseOutputs parses --output and checks the destinations of --output,
// --iidfile and --metadata-file on disk. When the output streams to stdout,
// neither file may be stdout too.
func (o *buildOptions) parseOutputs(stdout io.Writer) ([]output, error) {
	var outs []output
	for _, s := range o.outputs {
		out, err := parseOutput(s)
		if err != nil {
			return nil, err
		}
		if err := checkOutputDest(out, stdout); err != nil {
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
		if len(outs) == 1 && outs[0].toStdout() && sameAsStdout(f.path, stdout) {
			return nil, fmt.Errorf("%s %s: stdout already carries the --output %q archive; write it to a file", f.flag, f.path, outs[0].Spec)
		}
	}
	return outs, nil
}

func runBuild(ctx context.Context, g *globals, o *buildOptions, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	outs, args, labels, err := o.validate(stdout)
	if err != nil {
		return err
	}
	if handled, err := g.enterNamespace(); handled || err != nil {
		return err
	}
	// Everything this build keeps on disk for a while (a fetched context, read-only views,
	// new cache mounts) lives in one scratch dir that the next hush command sweeps if this
	// one is killed.
	sess, err := scratch.New(filepath.Join(g.root, "tmp"))
	if err != nil {
		return err
	}
	defer sess.Remove()
	secrets, err := loadSecrets(o.secrets)
	if err != nil {
		return err
	}
	defer secrets.Wipe()
	for _, f := range o.secretFiles {
		vars, err := secret.ReadEnvFile(f, os.LookupEnv)
		if err != nil {
			return fmt.Errorf("--secret-env-file: %w", err)
		}
		for _, v := range vars {
			secrets.Add(v.Key, v.Value)
			clear(v.Value)
		}
	}
	for _, f := range o.argFiles {
		vars, err := secret.ReadEnvFile(f, os.LookupEnv)
		if err != nil {
			return fmt.Errorf("--build-arg-file: %w", err)
		}
		for _, v := range vars {
			if _, set := args[v.Key]; !set { // --build-arg wins over a file
				args[v.Key] = string(v.Value)
			}
			clear(v.Value)
		}
	}
	// One copy of every secret value of this build, for masking, lint and the audit;
	// wiped when the build ends.
	vals, err := secretValues(secrets, o.ssh)
	if err != nil {
		return err
	}
	defer func() {
		for _, v := range vals {
			clear(v)
		}
	}()
	mask := maskValues(vals)
	masks := secret.NewMasks(mask)
	defer masks.Wipe()
	red := masks.Writer(stderr)
	defer red.Close()
	stderr = red
	defer func() { err = redactError(err, mask) }()
	agents, closeAgents, err := openAgents(o.ssh)
	if err != nil {
		return err
	}
	defer closeAgents()
	if o.knownHosts == "" {
		if home, err := os.UserHomeDir(); err == nil {
			if _, err := os.Stat(filepath.Join(home, ".ssh", "known_hosts")); err == nil {
				o.knownHosts = filepath.Join(home, ".ssh", "known_hosts")
			}
		}
	}
	git := builder.GitAuth{Secrets: secrets, SSH: agents, KnownHosts: o.knownHosts, RunDir: filepath.Join(g.root, "run"), Stderr: stderr}
	df, bctx, cleanup, err := o.loadInputs(ctx, stdin, sess.Path(), git)
	if err != nil {
		return err
	}
	defer cleanup()
	b, err := newBuilder(g.root, sess.Path(), o.runtime)
	if err != nil {
		return err
	}
	defer b.Close()
	kc, err := o.registry.keychain(g.root, stderr, imageGenerator(b))
	if err != nil {
		return err
	}
	regOpts, err := o.registry.options()
	if err != nil {
		return err
	}
	transport, err := registry.Transport(regOpts...)
	if err != nil {
		return err
	}
	b.Resolver.Keychain, b.Resolver.Transport, b.Resolver.Insecure = kc, transport, o.registry.insecure
	disp, err := progress.New(stderr, o.progress, progress.WithTerminal(os.Stderr))
	if err != nil {
		return err
	}
	warnShortSecrets(vals, disp)
	if len(o.argFiles) > 0 {
		disp.Warn("--build-arg-file: build args persist in the image history (docker history shows them); use --secret-env-file for credentials")
	}
	for _, f := range lint.Check(df, lint.Options{Secrets: vals, BuildArgs: args, Context: bctx}) {
		disp.Warn(f.String())
	}
	res, err := b.Build(ctx, builder.Options{Context: bctx, Dockerfile: df, BuildArgs: args,
		Target: o.target, NoCache: o.noCache, Labels: labels, Network: o.network, Progress: disp,
		Secrets: secrets, SSH: agents, KnownHosts: o.knownHosts, Mask: masks})
	if err != nil {
		disp.Close()
		return err
	}
	for _, w := range res.Warnings {
		disp.Warn(w)
	}
	if err := b.SelfAudit(ctx, res, builder.AuditOptions{Mode: o.audit, Secrets: vals, Progress: disp}); err != nil {
		disp.Close()
		return err
	}
	id, digest, err := publish(ctx, b.Images, res.Image, outs, o.tags, disp, stdout, func(ctx context.Context, name string) error {
		return registry.Push(ctx, res.Image, name, kc, regOpts...)
	})
	if cerr := disp.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// -q prints the ID on stdout, unless stdout carries the output archive
	// (buildx would append it to the archive; use --iidfile for it).
	if o.quiet && !(len(outs) == 1 && outs[0].toStdout()) {
		fmt.Fprintln(stdout, id)
	}
	return writeIDFiles(o, id, digest, mask)
}

// writeIDFiles writes --iidfile and --metadata-file through outfile.Write:
// a FIFO, a device or /dev/stdout is written through, a regular file
// replaced atomically.
func writeIDFiles(o *buildOptions, id, digest v1.Hash, mask [][]byte) error {
	if o.iidfile != "" {
		if err := outfile.Write(o.iidfile, 0o644, writeBytes([]byte(id.String()))); err != nil {
			return fmt.Errorf("--iidfile: %w", err)
		}
	}
	if o.metadataFile != "" {
		md := map[string]any{"containerimage.config.digest": id.String(), "containerimage.digest": digest.String()}
		if len(o.tags) > 0 {
			var names []string
			for _, t := range o.tags {
				n, _ := image.NormalizeName(t)
				names = append(names, n)
			}
			md["image.name"] = strings.Join(names, ",")
		}
		data, _ := json.MarshalIndent(md, "", "  ")
		data = secret.Redact(data, mask)
		if err := outfile.Write(o.metadataFile, 0o644, writeBytes(data)); err != nil {
			return fmt.Errorf("--metadata-file: %w", err)
		}
	}
	return nil
}

func writeBytes(b []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	}
}
