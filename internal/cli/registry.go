package cli

import (
	"context"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/registry"
	"github.com/hush-build/hush/internal/sink"
)

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
	push := func(ctx context.Context, img v1.Image, ref string) error {
		return registry.Push(ctx, img, ref, kc, opts...)
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
