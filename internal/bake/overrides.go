package bake

import (
	"encoding"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
)

// Override is the value --set gives one key of the targets a pattern matches.
type Override struct {
	Value    string
	ArrValue []string
	Append   bool // KEY+=VALUE
	Clear    bool // KEY= (a list emptied)
}

// keyAliases are the plural spellings --set accepts for a key.
var keyAliases = map[string]string{
	"annotations": "annotation", "args": "arg", "entitlements": "entitlement", "extra-hosts": "extra-host",
	"labels": "label", "platforms": "platform", "resources": "resource", "tags": "tag", "ulimits": "ulimit",
}

// listKeys take several values, appended with +=.
var listKeys = map[string]bool{
	"output": true, "cache-to": true, "cache-from": true, "tag": true, "platform": true, "ssh": true,
	"attest": true, "entitlement": true, "annotation": true, "policy": true, "ulimit": true, "no-cache-filter": true,
}

// newOverrides parses --set PATTERN.KEY[.NAME][+]=VALUE flags into the overrides of each
// target the pattern matches.
func (c *Config) newOverrides(flags []string) (map[string]map[string]Override, error) {
	m := map[string]map[string]Override{}
	for _, flag := range flags {
		lhs, value, hasValue := strings.Cut(flag, "=")
		skey := strings.TrimSuffix(lhs, "+")
		appendTo := strings.HasSuffix(lhs, "+")
		keys := strings.SplitN(skey, ".", 3)
		if len(keys) < 2 {
			return nil, fmt.Errorf("--set %s: invalid override key %s, expected target.name", flag, skey)
		}
		if a, ok := keyAliases[keys[1]]; ok {
			keys[1] = a
		}
		if keys[1] == "secrets" {
			if len(keys) != 2 {
				return nil, fmt.Errorf("--set %s: invalid key %s, secret does not support subkeys", flag, lhs)
			}
			keys[1] = "secret"
		}
		if !hasValue && keys[1] != "arg" {
			return nil, fmt.Errorf("--set %s: invalid override, expected target.name=value", flag)
		}
		names, err := c.expandTargets(keys[0])
		if err != nil {
			return nil, fmt.Errorf("--set %s: %w", flag, err)
		}
		okey := strings.Join(keys[1:], ".")
		for _, name := range names {
			if m[name] == nil {
				m[name] = map[string]Override{}
			}
			o := m[name][okey]
			skip, err := o.set(keys, value, hasValue, appendTo)
			if err != nil {
				return nil, fmt.Errorf("--set %s: %w", flag, err)
			}
			if !skip {
				m[name][okey] = o
			}
		}
	}
	return m, nil
}

// set records one --set value for keys (KEY[.NAME]); skip is an arg left out because the
// environment lacks it.
func (o *Override) set(keys []string, value string, hasValue, appendTo bool) (skip bool, err error) {
	key := keys[1]
	switch {
	case listKeys[key] || (key == "secret" && len(keys) == 2):
		if len(keys) != 2 {
			return false, fmt.Errorf("invalid key %s, %s does not support subkeys", strings.Join(keys, "."), key)
		}
		if hasValue {
			if !appendTo && value == "" {
				o.Clear, o.ArrValue = true, nil
			} else {
				o.ArrValue = append(o.ArrValue, value)
			}
			o.Append = appendTo && !o.Clear
		}
	case key == "secret":
		if appendTo {
			return false, fmt.Errorf("invalid key %s, secret does not support append", strings.Join(keys, "."))
		}
		o.Value = value
	case key == "arg" || key == "contexts" || key == "label" || key == "extra-host" || key == "resource":
		if len(keys) != 3 {
			return false, fmt.Errorf("invalid key %s, %s requires name", strings.Join(keys, "."), key)
		}
		if key == "arg" && !hasValue {
			v, ok := os.LookupEnv(keys[2])
			if !ok {
				return true, nil
			}
			value = v
		}
		o.Value = value
	default:
		if len(keys) != 2 {
			return false, fmt.Errorf("invalid key %s, %s does not support subkeys", strings.Join(keys, "."), key)
		}
		o.Value = value
	}
	return false, nil
}

// expandTargets matches a --set pattern against the targets.
func (c *Config) expandTargets(pattern string) ([]string, error) {
	if c.findTarget(pattern) != nil {
		return []string{pattern}, nil
	}
	var names []string
	for _, t := range c.Targets {
		ok, err := path.Match(pattern, t.Name)
		if err != nil {
			return nil, fmt.Errorf("could not match targets with '%s': %w", pattern, err)
		}
		if ok {
			names = append(names, t.Name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("could not find any target matching '%s'", pattern)
	}
	return names, nil
}

// parseList parses each non-empty string as a T.
func parseList[T any, PT interface {
	encoding.TextUnmarshaler
	*T
}](in []string) ([]*T, error) {
	out := make([]*T, 0, len(in))
	for _, s := range in {
		if s == "" {
			continue
		}
		v := new(T)
		if err := PT(v).UnmarshalText([]byte(s)); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func parseBool(key, value string) (*bool, error) {
	b, err := strconv.ParseBool(value)
	if err != nil {
		return nil, fmt.Errorf("invalid value %s for boolean key %s", value, key)
	}
	return &b, nil
}
