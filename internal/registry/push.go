package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrUnauthorized is returned (wrapped) when a registry refuses the
// credentials, or asks for some and none were found.
var ErrUnauthorized = errors.New("unauthorized")

// Option configures how Push and Pull reach a registry.
type Option func(*options) error

type options struct {
	transport http.RoundTripper
	caPEM     [][]byte
	insecure  bool
}

// WithTransport sets the HTTP transport (go-containerregistry adds auth and
// retries on top). It cannot be combined with WithCACerts.
func WithTransport(rt http.RoundTripper) Option {
	return func(o *options) error {
		if rt == nil {
			return errors.New("nil transport")
		}
		o.transport = rt
		return nil
	}
}

// WithCACerts trusts the PEM certificates in pem, in addition to the system
// roots, for registry TLS (a private registry's CA, a test CA).
func WithCACerts(pem []byte) Option {
	return func(o *options) error {
		if len(pem) == 0 {
			return errors.New("empty CA certificates")
		}
		o.caPEM = append(o.caPEM, pem)
		return nil
	}
}

// WithInsecure allows plain-HTTP registries.
func WithInsecure() Option {
	return func(o *options) error { o.insecure = true; return nil }
}

func newOptions(opts []Option) (*options, error) {
	o := &options{}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, fmt.Errorf("configuring registry access: %w", err)
		}
	}
	if o.transport != nil && len(o.caPEM) > 0 {
		return nil, errors.New("configuring registry access: a transport and CA certificates are mutually exclusive; configure the transport's TLS instead")
	}
	if o.transport == nil {
		rt, err := caTransport(o.caPEM)
		if err != nil {
			return nil, err
		}
		o.transport = rt
	}
	return o, nil
}

// Transport returns the HTTP transport opts describe, for callers that build
// their own go-containerregistry calls (the FROM resolver).
func Transport(opts ...Option) (http.RoundTripper, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	return o.transport, nil
}

func caTransport(pems [][]byte) (http.RoundTripper, error) {
	if len(pems) == 0 {
		return remote.DefaultTransport, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, p := range pems {
		if !pool.AppendCertsFromPEM(p) {
			return nil, errors.New("configuring registry access: no PEM certificate in the CA certificates")
		}
	}
	base, ok := remote.DefaultTransport.(*http.Transport)
	if !ok {
		return nil, errors.New("configuring registry access: unexpected default transport")
	}
	t := base.Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return t, nil
}

func (o *options) nameOptions() []name.Option {
	if o.insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

// Push uploads t — an image or an index, with every blob it names — to ref (a registry
// reference: host/repo:tag or host/repo@digest) with the credentials kc resolves for ref's
// registry (nil: anonymous). A refusal wraps ErrUnauthorized and names the registry and
// where the credentials came from, never the credentials.
func Push(ctx context.Context, t remote.Taggable, ref string, kc authn.Keychain, opts ...Option) error {
	c, err := connect(ctx, "pushing to", ref, kc, opts)
	if err != nil {
		return err
	}
	if err := remote.Push(c.ref, t, c.remoteOptions(ctx)...); err != nil {
		return c.fail(err)
	}
	return nil
}

// Pull fetches the image ref names (for an index, the linux platform
// image matching platform; nil means linux/amd64) with kc's credentials.
func Pull(ctx context.Context, ref string, kc authn.Keychain, platform *v1.Platform, opts ...Option) (v1.Image, error) {
	c, err := connect(ctx, "pulling", ref, kc, opts)
	if err != nil {
		return nil, err
	}
	ropts := c.remoteOptions(ctx)
	if platform != nil {
		ropts = append(ropts, remote.WithPlatform(*platform))
	}
	img, err := remote.Image(c.ref, ropts...)
	if err != nil {
		return nil, c.fail(err)
	}
	return img, nil
}

// Get fetches what ref names, an image or an index of every platform's image,
// with kc's credentials (hush audit reads them all).
func Get(ctx context.Context, ref string, kc authn.Keychain, opts ...Option) (*remote.Descriptor, error) {
	c, err := connect(ctx, "fetching", ref, kc, opts)
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(c.ref, c.remoteOptions(ctx)...)
	if err != nil {
		return nil, c.fail(err)
	}
	return desc, nil
}

// conn is one registry operation's reference, credentials and transport.
type conn struct {
	verb string // "pushing to", for errors
	ref  name.Reference
	auth authn.Authenticator
	o    *options
}

func connect(ctx context.Context, verb, ref string, kc authn.Keychain, opts []Option) (*conn, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	nref, err := name.ParseReference(ref, o.nameOptions()...)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", verb, ref, err)
	}
	auth, err := resolve(ctx, kc, nref.Context())
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", verb, nref, err)
	}
	return &conn{verb: verb, ref: nref, auth: auth, o: o}, nil
}

func (c *conn) remoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithAuth(c.auth), remote.WithTransport(c.o.transport)}
}

// fail wraps a registry error, explaining a refusal (see explain).
func (c *conn) fail(err error) error {
	return fmt.Errorf("%s %s: %w", c.verb, c.ref, explain(err, c.ref.Context().RegistryStr(), c.auth))
}

func resolve(ctx context.Context, kc authn.Keychain, repo name.Repository) (authn.Authenticator, error) {
	if kc == nil {
		return authn.Anonymous, nil
	}
	auth, err := authn.Resolve(ctx, kc, repo)
	if err != nil {
		return nil, fmt.Errorf("getting credentials for %s: %w", repo.RegistryStr(), err)
	}
	return auth, nil
}

// explain turns a registry's 401/403 into ErrUnauthorized with a hint at
// where the credentials came from.
func explain(err error, registry string, auth authn.Authenticator) error {
	var te *transport.Error
	if !errors.As(err, &te) || (te.StatusCode != http.StatusUnauthorized && te.StatusCode != http.StatusForbidden) {
		return err
	}
	if auth == authn.Anonymous {
		return fmt.Errorf("registry %s wants credentials and none were found for it (--registry-auth, --registry-auth-generator, docker config): %w: %w", registry, ErrUnauthorized, err)
	}
	return fmt.Errorf("registry %s refused the credentials from %s: %w: %w", registry, sourceOf(auth), ErrUnauthorized, err)
}
