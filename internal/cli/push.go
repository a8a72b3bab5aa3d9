package cli

import (
	"path/filepath"
	"strings"
	"time"

	"context"
	"fmt"
	"io"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/registry"
)

// registryFlags are the registry access flags shared by push and build.
type registryFlags struct {
	authFile  string
	generator string
	caFile    string
	insecure  bool
	cacheTTL  time.Duration
}

func (f *registryFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.authFile, "registry-auth", "", "registry credentials: a dockercfg or config.json, plain or age-encrypted (FILE[.age]); read into memory only, wins over the docker config")
	fs.StringVar(&f.generator, "registry-auth-generator", "", "mint registry credentials: 'COMMAND ARGS' writes a dockercfg to the path hush appends as its last argument (on tmpfs, deleted at once); 'helper:NAME' asks docker-credential-NAME")
	fs.StringVar(&f.caFile, "registry-ca", "", "PEM CA certificates to trust for registry TLS, besides the system roots")
	fs.BoolVar(&f.insecure, "insecure-registry", false, "allow plain-HTTP registries")
	fs.DurationVar(&f.cacheTTL, "registry-auth-cache", 0, "keep generated credentials on disk, age-encrypted under the state dir (the key stays on a tmpfs), for this long (e.g. 30m); 0: memory only, for this command")
}

// keychain returns the credentials the flags describe, then the user's docker config.
// Generator and helper output goes to logs; runImage runs "image:NAME" generators.
func (f *registryFlags) keychain(root string, logs io.Writer, runImage registry.ImageRunner) (authn.Keychain, error) {
	c := registry.Credentials{AuthFile: f.authFile, Generator: f.generator, Logs: logs, RunImage: runImage}
	if f.cacheTTL > 0 {
		c.Cache = &registry.DiskCache{Dir: filepath.Join(root, "regauth"), TTL: f.cacheTTL}
	}
	return c.Keychain()
}

// needsNamespace reports flags that run a hush image (an image generator).
func (f *registryFlags) needsNamespace() bool {
	return strings.HasPrefix(f.generator, registry.GeneratorImagePrefix)
}

// options returns how to reach registries (TLS roots, plain HTTP).
func (f *registryFlags) options() ([]registry.Option, error) {
	var opts []registry.Option
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return nil, fmt.Errorf("reading --registry-ca: %w", err)
		}
		opts = append(opts, registry.WithCACerts(pem))
	}
	if f.insecure {
		opts = append(opts, registry.WithInsecure())
	}
	return opts, nil
}

type pushOptions struct {
	image, ref string
	registry   registryFlags
}

func newPushCmd(g *globals) *cobra.Command {
	o := &pushOptions{}
	cmd := &cobra.Command{
		Use:   "push IMAGE [REF]",
		Short: "Push an image to a registry",
		Long: `Push an image from the local store to a registry, as REF (host/repo:tag) or, without
REF, under the image's own name.

Credentials come from --registry-auth, then --registry-auth-generator, then the docker
config (DOCKER_CONFIG or ~/.docker/config.json: auths, credsStore, credHelpers). They are
kept in memory and never printed.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.image, o.ref = args[0], args[0]
			if len(args) == 2 {
				o.ref = args[1]
			}
			return runPush(cmd.Context(), g, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.registry.register(cmd.Flags())
	return cmd
}

func runPush(ctx context.Context, g *globals, o *pushOptions, stdout, stderr io.Writer) error {
	var runImage registry.ImageRunner
	if o.registry.needsNamespace() {
		if handled, err := g.enterNamespace(); handled || err != nil {
			return err
		}
		b, err := builder.Open(g.root, builder.Config{})
		if err != nil {
			return err
		}
		defer b.Close()
		runImage = b.ImageGenerator()
	}
	store, err := g.store()
	if err != nil {
		return err
	}
	img, _, err := store.Image(o.image)
	if err != nil {
		return fmt.Errorf("push %s: %w", o.image, err)
	}
	ref, err := image.NormalizeName(o.ref)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	kc, err := o.registry.keychain(g.root, stderr, runImage)
	if err != nil {
		return err
	}
	opts, err := o.registry.options()
	if err != nil {
		return err
	}
	if err := registry.Push(ctx, img, ref, kc, opts...); err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	fmt.Fprintf(stdout, "pushed %s@%s\n", image.FamiliarName(ref), d)
	return nil
}
