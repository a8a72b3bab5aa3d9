package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/hush-build/hush/internal/build"
	"github.com/hush-build/hush/internal/buildcontext"
	"github.com/hush-build/hush/internal/cache"
	"github.com/hush-build/hush/internal/dockerfile"
	"github.com/hush-build/hush/internal/executor"
	"github.com/hush-build/hush/internal/gitsource"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/progress"
	"github.com/hush-build/hush/internal/secret"
	"github.com/hush-build/hush/internal/snapshot"
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
	f.StringArrayVarP(&o.outputs, "output", "o", nil, `Output destination (format: "type=local,dest=path")`)
	f.StringVar(&o.progress, "progress", "auto", `Set type of progress output ("auto", "plain", "tty", "quiet")`)
	f.StringVar(&o.iidfile, "iidfile", "", "Write the image ID to a file")
	f.StringVar(&o.metadataFile, "metadata-file", "", "Write build result metadata to a file")
	f.StringVar(&o.network, "network", "default", `Set the networking mode for the "RUN" instructions during build ("default" = host, "host", "none")`)
	f.StringVar(&o.runtime, "runtime", "", `OCI runtime for RUN steps ("crun" or "runc"; default: crun when installed)`)
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress the build output and print image ID on success")
	f.StringArrayVar(&o.ssh, "ssh", nil, `SSH agent socket or keys to expose to the build (format: "default|<id>[=<socket>|<key>[,<key>]]")`)
	f.StringVar(&o.knownHosts, "ssh-known-hosts", "", `known_hosts file that ssh Git sources are checked against (default: ~/.ssh/known_hosts)`)
	f.StringArrayVar(&o.secrets, "secret", nil, `Secret to expose to the build (format: "id=mysecret[,src=/local/secret|,env=VAR][,rebuild-on-change]")`)
	return cmd
}

// validate checks flag values before any work starts.
func (o *buildOptions) validate() ([]output, map[string]string, map[string]string, error) {
	var outs []output
	for _, s := range o.outputs {
		out, err := parseOutput(s)
		if err != nil {
			return nil, nil, nil, err
		}
		outs = append(outs, out)
	}
	if len(outs) > 1 {
		return nil, nil, nil, fmt.Errorf("--output: only one output is supported, got %d", len(outs))
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

func runBuild(ctx context.Context, g *globals, o *buildOptions, stdin io.Reader, stdout, stderr io.Writer) error {
	outs, args, labels, err := o.validate()
	if err != nil {
		return err
	}
	if !executor.InPrivateNS() {
		code, err := executor.Reexec()
		if err != nil {
			return err
		}
		if code != 0 {
			return &ExitError{Code: code}
		}
		return nil
	}
	if err := executor.PrepareNS(filepath.Join(g.root, "run")); err != nil {
		return err
	}
	secrets, err := loadSecrets(o.secrets)
	if err != nil {
		return err
	}
	defer secrets.Wipe()
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
	git := build.GitAuth{Secrets: secrets, SSH: agents, KnownHosts: o.knownHosts, RunDir: filepath.Join(g.root, "run"), Stderr: stderr}
	df, bctx, cleanup, err := o.loadInputs(ctx, stdin, g.root, git)
	if err != nil {
		return err
	}
	defer cleanup()
	b, err := newBuilder(g.root, o.runtime)
	if err != nil {
		return err
	}
	disp, err := progress.New(stderr, o.progress, progress.WithTerminal(os.Stderr))
	if err != nil {
		return err
	}
	res, err := b.Build(ctx, build.Options{Context: bctx, Dockerfile: df, BuildArgs: args,
		Target: o.target, NoCache: o.noCache, Labels: labels, Network: o.network, Progress: disp,
		Secrets: secrets, SSH: agents, KnownHosts: o.knownHosts})
	if err != nil {
		disp.Close()
		return err
	}
	for _, w := range res.Warnings {
		disp.Warn(w)
	}
	id, digest, err := publish(b.Images, res.Image, outs, o.tags, disp)
	if cerr := disp.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if o.quiet {
		fmt.Fprintln(stdout, id)
	}
	if o.iidfile != "" {
		if err := writeFileAtomic(o.iidfile, []byte(id.String())); err != nil {
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
		if err := writeFileAtomic(o.metadataFile, data); err != nil {
			return fmt.Errorf("--metadata-file: %w", err)
		}
	}
	return nil
}

// loadSecrets parses every --secret and reads the values into memory once.
func loadSecrets(flags []string) (*secret.Store, error) {
	var specs []secret.Spec
	for _, f := range flags {
		sp, err := secret.ParseSpec(f)
		if err != nil {
			return nil, fmt.Errorf("--secret %q: %w", f, err)
		}
		specs = append(specs, sp)
	}
	return secret.Load(specs, os.LookupEnv)
}

// openAgents opens every --ssh source (keys are loaded into memory only).
func openAgents(flags []string) (map[string]build.SSHSource, func(), error) {
	specs, err := sshagent.ParseSpecs(flags)
	if err != nil {
		return nil, nil, fmt.Errorf("--ssh: %w", err)
	}
	out := map[string]build.SSHSource{}
	var opened []*sshagent.Source
	closeAll := func() {
		for _, s := range opened {
			s.Close()
		}
	}
	for _, sp := range specs {
		src, err := sshagent.Open(sp, os.Getenv)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("--ssh %s: %w", sp.ID, err)
		}
		opened = append(opened, src)
		out[sp.ID] = src
	}
	return out, closeAll, nil
}

// loadInputs reads the Dockerfile and opens the build context.
func (o *buildOptions) loadInputs(ctx context.Context, stdin io.Reader, root string, git build.GitAuth) (*dockerfile.File, *buildcontext.Context, func(), error) {
	cleanup := func() {}
	ctxDir := o.contextPath
	dfPath := o.file
	var dfData []byte
	ref, isGit, err := gitsource.Parse(ctxDir)
	if _, statErr := os.Stat(ctxDir); statErr == nil {
		isGit, err = false, nil // an existing local path is never a Git shorthand
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("build context %s: %w", gitsource.Redact(ctxDir), err)
	}
	if isGit {
		if ctxDir, cleanup, err = fetchContext(ctx, ref, root, git); err != nil {
			return nil, nil, nil, err
		}
		if dfPath == "" {
			dfPath = "Dockerfile"
		}
		if !filepath.IsAbs(dfPath) {
			dfPath = filepath.Join(ctxDir, dfPath)
		}
		if dfData, err = os.ReadFile(dfPath); err != nil {
			cleanup()
			return nil, nil, nil, fmt.Errorf("reading Dockerfile from the Git context: %w", err)
		}
	} else if ctxDir == "-" {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("reading Dockerfile from stdin: %w", err)
		}
		dir, err := os.MkdirTemp(filepath.Join(root, "tmp"), "ctx-")
		if err != nil {
			if err := os.MkdirAll(filepath.Join(root, "tmp"), 0o700); err != nil {
				return nil, nil, nil, err
			}
			if dir, err = os.MkdirTemp(filepath.Join(root, "tmp"), "ctx-"); err != nil {
				return nil, nil, nil, err
			}
		}
		cleanup = func() { os.RemoveAll(dir) }
		ctxDir, dfData = dir, data
		if dfPath == "" {
			dfPath = "Dockerfile"
		}
	} else {
		fi, err := os.Stat(ctxDir)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("build context %s: %w", ctxDir, err)
		}
		if !fi.IsDir() {
			return nil, nil, nil, fmt.Errorf("build context %s: not a directory", ctxDir)
		}
		if dfPath == "" {
			dfPath = filepath.Join(ctxDir, "Dockerfile")
		}
		if dfPath == "-" {
			if dfData, err = io.ReadAll(stdin); err != nil {
				return nil, nil, nil, fmt.Errorf("reading Dockerfile from stdin: %w", err)
			}
			dfPath = filepath.Join(ctxDir, "Dockerfile")
		} else if dfData, err = os.ReadFile(dfPath); err != nil {
			return nil, nil, nil, fmt.Errorf("reading Dockerfile: %w", err)
		}
	}
	df, err := dockerfile.Parse(filepath.Base(dfPath), bytes.NewReader(dfData))
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	bctx, err := buildcontext.Open(ctxDir, dfPath)
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	return df, bctx, cleanup, nil
}

// fetchContext fetches a Git build context into a temp dir under the state dir.
func fetchContext(ctx context.Context, ref gitsource.Ref, root string, git build.GitAuth) (string, func(), error) {
	if err := os.MkdirAll(filepath.Join(root, "tmp"), 0o700); err != nil {
		return "", nil, err
	}
	parent, err := os.MkdirTemp(filepath.Join(root, "tmp"), "git-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(parent) }
	if _, err := build.FetchGit(ctx, ref, filepath.Join(parent, "src"), git); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("build context: %w", err)
	}
	return filepath.Join(parent, "src"), cleanup, nil
}

func newBuilder(root, runtime string) (*build.Builder, error) {
	store, err := image.OpenStore(filepath.Join(root, "store"))
	if err != nil {
		return nil, err
	}
	snaps, err := snapshot.Open(filepath.Join(root, "snapshots"))
	if err != nil {
		return nil, err
	}
	c, err := cache.Open(filepath.Join(root, "cache"))
	if err != nil {
		return nil, err
	}
	runDir := filepath.Join(root, "run")
	rt, err := executor.New(runtime, runDir)
	if err != nil {
		return nil, err
	}
	fp, err := secret.LoadFingerprintKey(filepath.Join(root, "keys", "fingerprint"))
	if err != nil {
		return nil, err
	}
	return &build.Builder{Images: store, Resolver: &image.Resolver{Store: store}, Snapshots: snaps,
		Cache: c, Runtime: rt, TmpDir: filepath.Join(root, "tmp"), RunDir: runDir,
		CacheMountDir: filepath.Join(root, "cachemounts"), Fingerprints: fp}, nil
}

// publish sends the image to its output, or to the store under its tags.
func publish(store *image.Store, img v1.Image, outs []output, tags []string, disp *progress.Display) (v1.Hash, v1.Hash, error) {
	id, err := img.ConfigName()
	if err != nil {
		return v1.Hash{}, v1.Hash{}, fmt.Errorf("computing image ID: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return v1.Hash{}, v1.Hash{}, fmt.Errorf("computing image digest: %w", err)
	}
	out := output{Type: "image"}
	if len(outs) == 1 {
		out = outs[0]
	}
	var names []string
	for _, t := range tags {
		n, _ := image.NormalizeName(t)
		names = append(names, n)
	}
	if out.Name != "" {
		for _, n := range strings.Split(out.Name, ",") {
			nn, err := image.NormalizeName(n)
			if err != nil {
				return id, digest, fmt.Errorf("--output name=%s: %w", n, err)
			}
			names = append(names, nn)
		}
	}
	var step *progress.Step
	switch out.Type {
	case "image":
		step = disp.Start("exporting to image store")
		_, err = store.Put(img, names...)
	case "oci":
		step = disp.Start("exporting to oci image format " + out.Dest)
		if out.Tar {
			err = image.WriteOCIArchive(img, out.Dest, names)
		} else {
			err = image.WriteOCILayout(img, out.Dest, names)
		}
	case "docker":
		step = disp.Start("exporting to docker image format " + out.Dest)
		err = image.WriteDockerArchive(img, out.Dest, names)
	case "local":
		step = disp.Start("exporting to client directory " + out.Dest)
		err = image.ExportRootfs(img, out.Dest)
	}
	step.Done(err)
	return id, digest, err
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp-hush"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
