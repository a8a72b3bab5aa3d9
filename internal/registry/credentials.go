package registry

import (
	"fmt"
	"io"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/hush-build/hush/internal/secretfile"
)

// Credentials says where one command's registry credentials come from: the
// --registry-auth file, the --registry-auth-generator and the user's docker
// config, asked in that order (the first with credentials for a registry wins).
type Credentials struct {
	// AuthFile is a dockercfg or config.json (--registry-auth), read into memory.
	AuthFile string
	// Generator is a --registry-auth-generator spec (see ParseGenerator).
	Generator string
	// NoUserConfig skips the user's docker config.
	NoUserConfig bool

	// Open reads AuthFile into memory. nil means secretfile's reader: plain
	// files as they are, age-encrypted ones decrypted in memory with the
	// identities found through Getenv (HUSH_IDENTITY, HUSH_IDENTITY_FILE).
	Open func(path string) ([]byte, error)
	// Getenv reads the environment (DOCKER_CONFIG, HOME, HUSH_IDENTITY…);
	// nil means os.Getenv.
	Getenv func(string) string
	// Env is the environment of helpers and generators; nil means os.Environ().
	Env []string
	// Logs receives generator and helper output; nil discards it.
	Logs io.Writer
	// GeneratorDir is the tmpfs for generator output and for the key of a Cache without
	// a KeyDir; "" means $HUSH_TMPFS_DIR (through Getenv), else DefaultGeneratorDir.
	GeneratorDir string
	// RunImage runs "image:NAME" generators; nil: they are not supported.
	RunImage ImageRunner
	// Cache keeps generated credentials on disk, encrypted, until they expire; nil:
	// memory only.
	Cache *DiskCache
}

// Keychain builds the keychain c describes. It reads AuthFile and the user's
// config now; a generator runs on first use.
func (c Credentials) Keychain() (authn.Keychain, error) {
	var kcs []authn.Keychain
	if c.AuthFile != "" {
		kc, err := c.authFileKeychain()
		if err != nil {
			return nil, err
		}
		kcs = append(kcs, kc)
	}
	if c.Generator != "" {
		dir := c.GeneratorDir
		if dir == "" {
			dir = c.getenv()(TmpfsDirEnv)
		}
		cache := c.Cache
		if cache != nil && cache.KeyDir == "" {
			withKeyDir := *cache
			withKeyDir.KeyDir = dir
			cache = &withKeyDir
		}
		kc, err := ParseGenerator(c.Generator, c.Env, c.Logs, dir, c.RunImage, cache)
		if err != nil {
			return nil, err
		}
		kcs = append(kcs, kc)
	}
	if !c.NoUserConfig {
		getenv := c.getenv()
		cfg, err := loadUserConfig(getenv)
		if err != nil {
			return nil, err
		}
		kcs = append(kcs, &Keychain{Config: cfg, Source: "docker config in " + ConfigDir(getenv), Env: c.Env, Stderr: c.Logs})
	}
	if len(kcs) == 1 {
		return kcs[0], nil
	}
	return authn.NewMultiKeychain(kcs...), nil
}

func (c Credentials) authFileKeychain() (*Keychain, error) {
	open := c.Open
	if open == nil {
		getenv := c.getenv()
		open = func(path string) ([]byte, error) {
			return secretfile.OpenEnv(path, func(k string) (string, bool) {
				v := getenv(k)
				return v, v != ""
			})
		}
	}
	data, err := open(c.AuthFile)
	if err != nil {
		return nil, fmt.Errorf("reading registry auth file: %w", err)
	}
	defer clear(data)
	cfg, err := parseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("reading registry auth file %s: %w", c.AuthFile, err)
	}
	if !cfg.ContainsAuth() {
		return nil, fmt.Errorf("reading registry auth file %s: no credentials in it", c.AuthFile)
	}
	return &Keychain{Config: cfg, Source: "--registry-auth " + c.AuthFile, Env: c.Env, Stderr: c.Logs}, nil
}

func (c Credentials) getenv() func(string) string {
	if c.Getenv == nil {
		return os.Getenv
	}
	return c.Getenv
}
