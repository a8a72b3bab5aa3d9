package bake

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// composeExtTarget applies a build section's x-bake extension: bake attributes compose
// has no field for.
func (t *Target) composeExtTarget(exts map[string]any) error {
	ext, ok := exts["x-bake"].(map[string]any)
	if !ok {
		return nil
	}
	lists := []struct {
		key   string
		apply func([]string) error
	}{
		{"tags", func(v []string) error { t.Tags = dedupSlice(append(t.Tags, v...)); return nil }},
		{"cache-from", func(v []string) error {
			e, err := ParseEntries(v)
			t.CacheFrom = t.CacheFrom.Merge(e)
			return err
		}},
		{"cache-to", func(v []string) error {
			e, err := ParseEntries(v)
			t.CacheTo = t.CacheTo.Merge(e)
			return err
		}},
		{"secret", func(v []string) error {
			s, err := parseList[Secret](v)
			t.Secrets = t.Secrets.Merge(s)
			return err
		}},
		{"ssh", func(v []string) error {
			s, err := parseList[SSH](v)
			t.SSH = t.SSH.Merge(s)
			slices.SortFunc(t.SSH, (*SSH).compare)
			return err
		}},
		{"platforms", func(v []string) error { t.Platforms = dedupSlice(append(t.Platforms, v...)); return nil }},
		{"output", func(v []string) error {
			o, err := parseList[Export](v)
			t.Outputs = t.Outputs.Merge(o)
			return err
		}},
		{"no-cache-filter", func(v []string) error { t.NoCacheFilter = dedupSlice(append(t.NoCacheFilter, v...)); return nil }},
	}
	for _, l := range lists {
		v, err := xbakeList(ext, l.key)
		if err == nil && len(v) > 0 {
			err = l.apply(v)
		}
		if err != nil {
			return fmt.Errorf("x-bake: %s: %w", l.key, err)
		}
	}
	return t.xbakeScalars(ext)
}

// xbakeScalars applies pull, no-cache and contexts.
func (t *Target) xbakeScalars(ext map[string]any) error {
	for key, dst := range map[string]**bool{"pull": &t.Pull, "no-cache": &t.NoCache} {
		v, ok := ext[key]
		if !ok || v == nil {
			continue
		}
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("x-bake: %s: want a boolean, got %v", key, v)
		}
		*dst = &b
	}
	if raw, ok := ext["contexts"].(map[string]any); ok && len(raw) > 0 {
		m := map[string]string{}
		for k, v := range raw {
			m[k] = fmt.Sprint(v)
		}
		merged := maps.Clone(t.Contexts)
		if merged == nil {
			merged = map[string]string{}
		}
		for k, v := range composeContexts(m) {
			if _, set := merged[k]; !set {
				merged[k] = v
			}
		}
		t.Contexts = merged
	}
	return nil
}

// xbakeList reads a list of strings, or one string split on spaces.
func xbakeList(ext map[string]any, key string) ([]string, error) {
	switch v := ext[key].(type) {
	case nil:
		return nil, nil
	case string:
		return strings.Fields(v), nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%s: want strings, got %v", key, e)
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%s: want a list of strings, got %v", key, v)
	}
}
