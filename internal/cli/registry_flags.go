package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/spf13/pflag"

	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/registry"
	"github.com/hush-build/hush/internal/sink"
)

// registryFlags are the registry access flags of every command that talks to a
// registry (build, push, audit): the one way hush finds credentials and reaches
// registries.
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

// keychain returns the credentials the flags describe, then the user's docker config:
// hush's only credential path (FROM pulls, pushes, audits). Generator and helper
// output goes to logs; runImage runs "image:NAME" generators.
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

// imageRunner returns what runs an "image:NAME" generator for a command that has no
// builder of its own (push, audit): nil without one. With one it enters hush's mount
// namespace first; handled means a re-executed hush already ran the command. done
// releases what it opened.
func (f *registryFlags) imageRunner(g *globals) (run registry.ImageRunner, done func(), handled bool, err error) {
	done = func() {}
	if !f.needsNamespace() {
		return nil, done, false, nil
	}
	if handled, err := g.enterNamespace(); handled || err != nil {
		return nil, done, handled, err
	}
	b, err := builder.Open(g.root, builder.Config{})
	if err != nil {
		return nil, done, false, err
	}
	return b.ImageGenerator(), func() { b.Close() }, false, nil
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

// access is how a build reaches registries the flags describe: credentials (generators
// run as hush images through b), TLS roots, plain HTTP; and a pusher for its sinks.
func (f *registryFlags) access(b *builder.Builder, logs io.Writer) (builder.Registry, sink.Pusher, error) {
	kc, err := f.keychain(b.Root(), logs, b.ImageGenerator())
	if err != nil {
		return builder.Registry{}, nil, err
	}
	opts, err := f.options()
	if err != nil {
		return builder.Registry{}, nil, err
	}
	transport, err := registry.Transport(opts...)
	if err != nil {
		return builder.Registry{}, nil, err
	}
	push := func(ctx context.Context, c *image.Composed, ref string, insecure bool) error {
		o := opts
		if insecure {
			o = append(append([]registry.Option(nil), opts...), registry.WithInsecure())
		}
		if c.Index != nil {
			return registry.Push(ctx, c.Index, ref, kc, o...)
		}
		return registry.Push(ctx, c.Image, ref, kc, o...)
	}
	return builder.Registry{Keychain: kc, Transport: transport, Insecure: f.insecure}, push, nil
}

// sinks gives the builder the sinks as it takes them.
func sinks(ss []sink.Sink) []builder.Sink {
	out := make([]builder.Sink, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
