package cli

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/hush-build/hush/internal/bake"
	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/remotecache"
	"github.com/hush-build/hush/internal/secret"
)

// FingerprintKeyEnv names a shared fingerprint key file when --fingerprint-key is not given.
const FingerprintKeyEnv = "HUSH_FINGERPRINT_KEY_FILE"

// cacheFlags are the build cache flags: buildx's --cache-from and --cache-to, and hush's
// --fingerprint-key.
type cacheFlags struct {
	from, to       []string
	fingerprintKey string
}

func (f *cacheFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&f.from, "cache-from", nil, `External cache sources (e.g., "user/app:cache", "type=local,src=path/to/dir")`)
	fs.StringArrayVar(&f.to, "cache-to", nil, `Cache export destinations (e.g., "user/app:cache", "type=local,dest=path/to/dir")`)
	fs.StringVar(&f.fingerprintKey, "fingerprint-key", "", "shared key for rebuild-on-change secret fingerprints (64 hex digits, plain or age-encrypted; default $"+FingerprintKeyEnv+"): machines sharing it compute the same cache keys for those steps, so they are exported")
}

// cacheSpecs are the parsed cache flags (or bake attributes).
type cacheSpecs struct {
	from []remotecache.Import
	to   []remotecache.Export
}

// parseCacheEntries reads --cache-from and --cache-to values in buildx's grammar (a value
// without "=" is a list of registry refs).
func parseCacheEntries(from, to []string) (cacheSpecs, error) {
	fe, err := bake.ParseEntries(from)
	if err != nil {
		return cacheSpecs{}, fmt.Errorf("--cache-from: %w", err)
	}
	te, err := bake.ParseEntries(to)
	if err != nil {
		return cacheSpecs{}, fmt.Errorf("--cache-to: %w", err)
	}
	return cacheEntries(fe, te)
}

// cacheEntries turns parsed entries (flags or a bake target's attributes) into specs.
func cacheEntries(from, to bake.Entries) (cacheSpecs, error) {
	var s cacheSpecs
	for _, e := range from {
		im, err := remotecache.ParseImport(e.Type, e.Attrs)
		if err != nil {
			return s, err
		}
		s.from = append(s.from, im)
	}
	for _, e := range to {
		ex, err := remotecache.ParseExport(e.Type, e.Attrs)
		if err != nil {
			return s, err
		}
		s.to = append(s.to, ex)
	}
	var err error
	s.to, err = remotecache.CheckExports(s.to)
	return s, err
}

// apply puts the specs in a request; a registry export mounts layers from the image's
// pushed repositories.
func (s cacheSpecs) apply(req *builder.Request, pushed []string) {
	req.CacheFrom = s.from
	req.CacheTo = nil
	for _, e := range s.to {
		if e.Type == remotecache.TypeRegistry {
			e.MountFrom = pushed
		}
		req.CacheTo = append(req.CacheTo, e)
	}
}

// loadFingerprintKey reads the shared fingerprint key from path, else from the file
// $HUSH_FINGERPRINT_KEY_FILE names; nil when neither is set (the state dir's own key).
func loadFingerprintKey(path string) (*secret.FingerprintKey, error) {
	flag := "--fingerprint-key"
	if path == "" {
		path, flag = os.Getenv(FingerprintKeyEnv), FingerprintKeyEnv
	}
	if path == "" {
		return nil, nil
	}
	k, err := secret.ReadFingerprintKey(path, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return k, nil
}
