package registry

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/types"
)

// ConfigFileName is the file docker reads in DOCKER_CONFIG (~/.docker by default).
const ConfigFileName = "config.json"

// legacyFileName is the pre-1.7 docker config in the home directory.
const legacyFileName = ".dockercfg"

// parseConfig parses a docker config.json ({"auths": …, "credsStore": …,
// "credHelpers": …}) or a legacy .dockercfg ({"host": {"auth": …, "email": …}})
// from memory with docker/cli's configfile, which decodes "auth" into a user
// name and password. The result has no file name, so it can never be saved.
// Keys of AuthConfigs and CredentialHelpers are normalized with NormalizeKey;
// when two keys normalize alike, the one already in canonical form wins, else
// the first in sorted order. Errors never quote the input.
func parseConfig(data []byte) (*configfile.ConfigFile, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("parsing docker config: %w", jsonError(err))
	}
	if top == nil {
		return nil, errors.New("parsing docker config: not a JSON object")
	}
	legacy := isLegacy(top)
	for _, v := range top {
		clear(v)
	}
	if legacy {
		// docker/cli dropped the legacy form: it is config.json's "auths" alone.
		wrapped := slices.Concat([]byte(`{"auths":`), data, []byte(`}`))
		defer clear(wrapped)
		data = wrapped
	}
	cf := configfile.New("")
	if err := cf.LoadFromReader(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("parsing docker config: %w", configError(err))
	}
	cf.AuthConfigs = normalizeKeys(cf.AuthConfigs)
	cf.CredentialHelpers = normalizeKeys(cf.CredentialHelpers)
	return cf, nil
}

// isLegacy reports whether a config's top level is a legacy .dockercfg: no
// config.json field, and every value an object with an "auth" member.
func isLegacy(top map[string]json.RawMessage) bool {
	if len(top) == 0 {
		return false
	}
	for _, k := range []string{"auths", "credsStore", "credHelpers"} {
		if _, ok := top[k]; ok {
			return false
		}
	}
	for _, v := range top {
		var probe map[string]json.RawMessage
		if json.Unmarshal(v, &probe) != nil {
			return false
		}
		_, ok := probe["auth"]
		for _, p := range probe {
			clear(p)
		}
		if !ok {
			return false
		}
	}
	return true
}

// normalizeKeys re-keys m by NormalizeKey: keys already in canonical form win,
// then the rest in sorted order; a key that normalizes to "" is dropped.
func normalizeKeys[V any](m map[string]V) map[string]V {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		ca, cb := NormalizeKey(a) == a, NormalizeKey(b) == b
		switch {
		case ca && !cb:
			return -1
		case cb && !ca:
			return 1
		}
		return strings.Compare(a, b)
	})
	out := make(map[string]V, len(m))
	for _, k := range keys {
		key := NormalizeKey(k)
		if _, dup := out[key]; dup || key == "" {
			continue
		}
		out[key] = m[k]
	}
	return out
}

// hasCredentials reports whether an auths entry holds anything to log in with.
func hasCredentials(a types.AuthConfig) bool {
	return a.Username != "" || a.Password != "" || a.IdentityToken != "" || a.RegistryToken != ""
}

// configError replaces an error of configfile.LoadFromReader with one that
// cannot quote the input: a JSON error (see jsonError), or one from decoding an
// "auth" field, which base64 reports by offset.
func configError(err error) error {
	var be base64.CorruptInputError
	switch {
	case errors.As(err, &be):
		return fmt.Errorf("an auths entry's \"auth\" is not base64: illegal data at byte %d", int64(be))
	case isJSONError(err):
		return jsonError(err)
	}
	return errors.New(`an auths entry's "auth" is not base64 of user:password`)
}

// jsonError replaces encoding/json errors that could quote input (a syntax
// error names the offending character) with ones that give only an offset.
func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Errorf("unexpected JSON %s at byte %d", te.Value, te.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errors.New("invalid JSON: it ends too early")
	}
	return errors.New("invalid JSON")
}

func isJSONError(err error) bool {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	return errors.As(err, &se) || errors.As(err, &te) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// ConfigDir is where docker reads config.json: $DOCKER_CONFIG, else ~/.docker.
// getenv is os.Getenv in production.
func ConfigDir(getenv func(string) string) string {
	if d := getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	if home == "" {
		return ""
	}
	return filepath.Join(home, ".docker")
}

// loadUserConfig reads the user's docker config as docker does:
// ConfigDir/config.json, else (without DOCKER_CONFIG) the legacy
// ~/.dockercfg. A missing file is an empty config, not an error. The path is
// hush's own resolution, not docker/cli's (which caches DOCKER_CONFIG in
// package state); the file is only read.
func loadUserConfig(getenv func(string) string) (*configfile.ConfigFile, error) {
	dir := ConfigDir(getenv)
	if dir == "" {
		return configfile.New(""), nil
	}
	paths := []string{filepath.Join(dir, ConfigFileName)}
	if getenv("DOCKER_CONFIG") == "" {
		paths = append(paths, filepath.Join(filepath.Dir(dir), legacyFileName))
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading docker config: %w", err)
		}
		c, err := parseConfig(data)
		clear(data)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		return c, nil
	}
	return configfile.New(""), nil
}
