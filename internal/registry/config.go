package registry

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ConfigFileName is the file docker reads in DOCKER_CONFIG (~/.docker by default).
const ConfigFileName = "config.json"

// legacyFileName is the pre-1.7 docker config in the home directory.
const legacyFileName = ".dockercfg"

// Entry is one registry's credentials: a user name and password, an identity
// token (OAuth refresh token exchanged by the client) or a registry token
// (a bearer token sent as is).
type Entry struct {
	Username      string
	Password      string
	IdentityToken string
	RegistryToken string
}

func (e Entry) empty() bool { return e == Entry{} }

// Config is a parsed docker config: credentials per normalized registry key,
// the default credential store and per-registry credential helpers.
type Config struct {
	// Auths maps NormalizeKey(registry) to its stored credentials.
	Auths map[string]Entry
	// CredsStore names the default helper (docker-credential-<CredsStore>).
	CredsStore string
	// CredHelpers maps NormalizeKey(registry) to a helper name.
	CredHelpers map[string]string
}

// Empty reports whether c holds no credential and names no helper.
func (c *Config) Empty() bool {
	return c == nil || (len(c.Auths) == 0 && c.CredsStore == "" && len(c.CredHelpers) == 0)
}

// rawEntry is an auths entry as docker writes it.
type rawEntry struct {
	Auth          string `json:"auth"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
	Email         string `json:"email"`
}

// ParseConfig parses a docker config.json ({"auths": …, "credsStore": …,
// "credHelpers": …}) or a legacy .dockercfg ({"host": {"auth": …, "email": …}}).
// Keys are normalized with NormalizeKey; when two keys normalize alike, the one
// already in canonical form wins, else the first in sorted order. Errors never
// quote the input.
func ParseConfig(data []byte) (*Config, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("parsing docker config: %w", jsonError(err))
	}
	if top == nil {
		return nil, errors.New("parsing docker config: not a JSON object")
	}
	var raw struct {
		Auths       map[string]rawEntry `json:"auths"`
		CredsStore  string              `json:"credsStore"`
		CredHelpers map[string]string   `json:"credHelpers"`
	}
	if isLegacy(top) {
		raw.Auths = map[string]rawEntry{}
		for k, v := range top {
			var e rawEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return nil, fmt.Errorf("parsing docker config entry for %s: %w", NormalizeKey(k), jsonError(err))
			}
			raw.Auths[k] = e
		}
	} else if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parsing docker config: %w", jsonError(err))
	}
	c := &Config{Auths: map[string]Entry{}, CredsStore: raw.CredsStore, CredHelpers: map[string]string{}}
	for _, k := range canonicalOrder(raw.Auths) {
		key := NormalizeKey(k)
		if _, dup := c.Auths[key]; dup || key == "" {
			continue
		}
		e, err := decodeEntry(raw.Auths[k])
		if err != nil {
			return nil, fmt.Errorf("parsing docker config entry for %s: %w", key, err)
		}
		c.Auths[key] = e
	}
	for _, k := range canonicalOrder(raw.CredHelpers) {
		key := NormalizeKey(k)
		if _, dup := c.CredHelpers[key]; dup || key == "" {
			continue
		}
		c.CredHelpers[key] = raw.CredHelpers[k]
	}
	return c, nil
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
		if _, ok := probe["auth"]; !ok {
			return false
		}
	}
	return true
}

// canonicalOrder lists m's keys with keys already in canonical form first,
// the rest sorted.
func canonicalOrder[V any](m map[string]V) []string {
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
	return keys
}

// decodeEntry turns an auths entry into credentials. "auth" (base64 of
// user:password) wins over separate username and password fields, like docker.
func decodeEntry(r rawEntry) (Entry, error) {
	e := Entry{Username: r.Username, Password: r.Password, IdentityToken: r.IdentityToken, RegistryToken: r.RegistryToken}
	if r.Auth == "" {
		return e, nil
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(r.Auth))
	if err != nil {
		// base64's errors give only an offset, never the input.
		return Entry{}, fmt.Errorf("decoding auth: %w", err)
	}
	user, pass, ok := bytes.Cut(dec, []byte(":"))
	if !ok {
		clear(dec)
		return Entry{}, errors.New("decoding auth: not user:password")
	}
	e.Username, e.Password = string(user), strings.Trim(string(pass), "\x00")
	clear(dec)
	return e, nil
}

// jsonError replaces encoding/json errors that could quote input (a syntax
// error names the offending character) with ones that give only an offset.
func jsonError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("unexpected JSON %s at byte %d", te.Value, te.Offset)
	}
	return errors.New("invalid JSON")
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

// LoadUserConfig reads the user's docker config as docker does:
// ConfigDir/config.json, else (without DOCKER_CONFIG) the legacy
// ~/.dockercfg. A missing file is an empty config, not an error.
func LoadUserConfig(getenv func(string) string) (*Config, error) {
	dir := ConfigDir(getenv)
	if dir == "" {
		return &Config{}, nil
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
		c, err := ParseConfig(data)
		clear(data)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		return c, nil
	}
	return &Config{}, nil
}
