package pipeline

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/hush-build/hush/internal/registry"
)

// access is how a service pull, a build's FROM or a push reaches registries.
type access struct {
	keychain  authn.Keychain
	transport http.RoundTripper
}

// access returns the keychain for credentials from an encrypted dockercfg (Jet or age,
// decrypted in memory) or a dockercfg generator service (run as seed 003 says), then the
// user's docker config. With registryKey set, credentials are looked up for that
// registry (a push step's registry:) whatever the image's registry is.
func (r *run) access(ctx context.Context, dockercfgPath, dockercfgService, registryKey string) (access, error) {
	transport, err := registry.Transport(r.env.Registry...)
	if err != nil {
		return access{}, err
	}
	key := dockercfgPath + "\x00" + dockercfgService
	r.mu.Lock()
	kc, ok := r.keychains[key]
	r.mu.Unlock()
	if !ok {
		c := registry.Credentials{Logs: r.errw}
		switch {
		case dockercfgPath != "":
			c.AuthFile = resolve(r.p.Dir, dockercfgPath)
			c.Open = r.vault.dockercfg
		case dockercfgService != "":
			c.Generator = registry.GeneratorImagePrefix + dockercfgService
			c.RunImage = r.generator
		}
		if kc, err = c.Keychain(); err != nil {
			return access{}, err
		}
		r.mu.Lock()
		r.keychains[key] = kc
		r.mu.Unlock()
	}
	if registryKey != "" {
		kc = &forRegistry{kc: kc, registry: registry.NormalizeKey(registryKey)}
	}
	return access{keychain: kc, transport: transport}, nil
}

// forRegistry looks credentials up for one registry (a push step's registry:), as Jet
// picked the dockercfg entry by it.
type forRegistry struct {
	kc       authn.Keychain
	registry string
}

func (f *forRegistry) Resolve(target authn.Resource) (authn.Authenticator, error) {
	return f.ResolveContext(context.Background(), target)
}

func (f *forRegistry) ResolveContext(ctx context.Context, _ authn.Resource) (authn.Authenticator, error) {
	reg, err := name.NewRegistry(f.registry)
	if err != nil {
		return nil, fmt.Errorf("registry %q: %w", f.registry, err)
	}
	return authn.Resolve(ctx, f.kc, reg)
}
