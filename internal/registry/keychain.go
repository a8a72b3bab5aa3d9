package registry

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
)

// Keychain answers go-containerregistry credential lookups from one docker
// config the way docker does: the registry's credHelpers entry, else the
// credsStore helper, else its auths entry; nothing found is anonymous.
// Registry names are normalized with NormalizeKey, so a "https://host/" key
// serves "host". Helper answers are kept in memory for the keychain's life
// (one build or push). A Keychain is safe for concurrent use.
type Keychain struct {
	// Config holds the credentials and helper names, its AuthConfigs and
	// CredentialHelpers keyed by NormalizeKey (as parseConfig leaves them).
	Config *configfile.ConfigFile
	// Source names where Config came from ("--registry-auth creds.json",
	// "docker config"); errors use it, never the credentials.
	Source string
	// Env is the helpers' environment; nil means os.Environ().
	Env []string
	// Stderr receives helpers' stderr; nil discards it.
	Stderr io.Writer

	mu     sync.Mutex
	cached map[string]cachedEntry
}

type cachedEntry struct {
	entry types.AuthConfig
	found bool
}

var (
	_ authn.Keychain        = (*Keychain)(nil)
	_ authn.ContextKeychain = (*Keychain)(nil)
)

// Resolve implements authn.Keychain.
func (k *Keychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), target)
}

// ResolveContext implements authn.ContextKeychain.
func (k *Keychain) ResolveContext(ctx context.Context, target authn.Resource) (authn.Authenticator, error) {
	key := NormalizeKey(target.RegistryStr())
	e, found, err := k.Lookup(ctx, key)
	if err != nil {
		return nil, err
	}
	if !found {
		return authn.Anonymous, nil
	}
	return newAuthenticator(e, k.Source), nil
}

// Lookup returns the credentials for a registry key (normalized here too).
func (k *Keychain) Lookup(ctx context.Context, registry string) (types.AuthConfig, bool, error) {
	if k == nil || k.Config == nil {
		return types.AuthConfig{}, false, nil
	}
	key := NormalizeKey(registry)
	name := k.Config.CredentialHelpers[key]
	if name == "" {
		name = k.Config.CredentialsStore
	}
	if name != "" {
		a, found, err := k.helper(ctx, name, key)
		if err != nil {
			return types.AuthConfig{}, false, fmt.Errorf("getting credentials for %s from %s: %w", key, k.source(), err)
		}
		if found {
			return a, true, nil
		}
	}
	a, ok := k.Config.AuthConfigs[key]
	if !ok || !hasCredentials(a) {
		return types.AuthConfig{}, false, nil
	}
	return a, true, nil
}

func (k *Keychain) helper(ctx context.Context, name, key string) (types.AuthConfig, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	ck := name + "\x00" + key
	if c, ok := k.cached[ck]; ok {
		return c.entry, c.found, nil
	}
	e, found, err := helper{name: name, env: k.Env, stderr: k.Stderr}.get(ctx, key)
	if err != nil {
		return types.AuthConfig{}, false, err
	}
	if k.cached == nil {
		k.cached = map[string]cachedEntry{}
	}
	k.cached[ck] = cachedEntry{entry: e, found: found}
	return e, found, nil
}

func (k *Keychain) source() string {
	if k.Source == "" {
		return "docker config"
	}
	return k.Source
}

// authenticator is an authn.Authenticator that remembers which source its
// credentials came from, so a rejected push can say where to look.
type authenticator struct {
	authn.Authenticator
	source string
}

func newAuthenticator(e types.AuthConfig, source string) authn.Authenticator {
	return &authenticator{
		Authenticator: authn.FromConfig(authn.AuthConfig{
			Username:      e.Username,
			Password:      e.Password,
			IdentityToken: e.IdentityToken,
			RegistryToken: e.RegistryToken,
		}),
		source: source,
	}
}

// String never shows the credentials (fmt would otherwise print the fields).
func (a *authenticator) String() string { return "credentials from " + a.source }

// GoString is String, for %#v.
func (a *authenticator) GoString() string { return a.String() }

// sourceOf names where an authenticator's credentials came from.
func sourceOf(a authn.Authenticator) string {
	if s, ok := a.(*authenticator); ok && s.source != "" {
		return s.source
	}
	return "the keychain"
}
