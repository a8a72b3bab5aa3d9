package bake

import "slices"

// Merge lays t2 over t, attribute by attribute, as buildx does: scalars and "no merge"
// lists are replaced when t2 sets them, maps are merged key by key, the other lists are
// appended (and deduplicated by normalize).
func (t *Target) Merge(t2 *Target) {
	setPtr(&t.Context, t2.Context)
	setPtr(&t.Dockerfile, t2.Dockerfile)
	setPtr(&t.DockerfileInline, t2.DockerfileInline)
	setPtr(&t.Target, t2.Target)
	setPtr(&t.Call, t2.Call)
	setPtr(&t.Pull, t2.Pull)
	setPtr(&t.NoCache, t2.NoCache)
	setPtr(&t.NetworkMode, t2.NetworkMode)
	setPtr(&t.ShmSize, t2.ShmSize)
	setPtr(&t.Resources, t2.Resources)
	setPtr(&t.Policy, t2.Policy)
	t.Args = mergeMap(t.Args, t2.Args)
	t.Labels = mergeMap(t.Labels, t2.Labels)
	t.ExtraHosts = mergeMap(t.ExtraHosts, t2.ExtraHosts)
	for k, v := range t2.Contexts {
		if t.Contexts == nil {
			t.Contexts = map[string]string{}
		}
		t.Contexts[k] = v
	}
	if t2.Tags != nil {
		t.Tags = t2.Tags
	}
	if t2.Platforms != nil {
		t.Platforms = t2.Platforms
	}
	if t2.CacheTo != nil {
		t.CacheTo = t2.CacheTo
	}
	if t2.Outputs != nil {
		t.Outputs = t2.Outputs
	}
	if t2.Annotations != nil {
		t.Annotations = append(t.Annotations, t2.Annotations...)
	}
	if t2.Attest != nil {
		t.Attest = t.Attest.Merge(t2.Attest)
	}
	if t2.Secrets != nil {
		t.Secrets = t.Secrets.Merge(t2.Secrets)
	}
	if t2.SSH != nil {
		t.SSH = t.SSH.Merge(t2.SSH)
	}
	if t2.CacheFrom != nil {
		t.CacheFrom = t.CacheFrom.Merge(t2.CacheFrom)
	}
	if t2.NoCacheFilter != nil {
		t.NoCacheFilter = append(t.NoCacheFilter, t2.NoCacheFilter...)
	}
	if t2.Ulimits != nil {
		t.Ulimits = append(t.Ulimits, t2.Ulimits...)
	}
	if t2.Entitlements != nil {
		t.Entitlements = append(t.Entitlements, t2.Entitlements...)
	}
	if t2.Description != "" {
		t.Description = t2.Description
	}
	if t2.File != "" {
		t.File = t2.File
	}
	t.Inherits = append(t.Inherits, t2.Inherits...)
}

func setPtr[T any](dst **T, src *T) {
	if src != nil {
		*dst = src
	}
}

// mergeMap sets each non-nil value of src in dst.
func mergeMap(dst, src map[string]*string) map[string]*string {
	for k, v := range src {
		if v == nil {
			continue
		}
		if dst == nil {
			dst = map[string]*string{}
		}
		dst[k] = v
	}
	return dst
}

// normalize drops duplicates and empty values, and adds the network.host entitlement a
// host network needs.
func (t *Target) normalize() {
	t.Annotations = removeDupesStr(t.Annotations)
	t.Attest = t.Attest.Normalize()
	t.Tags = removeDupesStr(t.Tags)
	t.Secrets = t.Secrets.Normalize()
	t.SSH = t.SSH.Normalize()
	t.Platforms = removeDupesStr(t.Platforms)
	t.CacheFrom = t.CacheFrom.Normalize()
	t.CacheTo = t.CacheTo.Normalize()
	t.Outputs = t.Outputs.Normalize()
	t.NoCacheFilter = removeDupesStr(t.NoCacheFilter)
	t.Ulimits = removeDupesStr(t.Ulimits)
	if t.NetworkMode != nil && *t.NetworkMode == "host" {
		t.Entitlements = append(t.Entitlements, "network.host")
	}
	t.Entitlements = removeDupesStr(t.Entitlements)
	for k, v := range t.Contexts {
		if v == "" {
			delete(t.Contexts, k)
		}
	}
	if len(t.Contexts) == 0 {
		t.Contexts = nil
	}
}

// removeDupesStr drops duplicates and "" in place, keeping first occurrences.
func removeDupesStr(s []string) []string {
	i := 0
	seen := make(map[string]bool, len(s))
	for _, v := range s {
		if seen[v] || v == "" {
			continue
		}
		seen[v] = true
		s[i] = v
		i++
	}
	return s[:i]
}

// dedupSlice drops duplicates, keeping first occurrences (nil stays nil).
func dedupSlice(s []string) []string {
	if len(s) == 0 {
		return s
	}
	var out []string
	seen := map[string]bool{}
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// mergeConfig adds c2's groups and targets to c1: a group of the same name gains the
// targets it lacks, a target of the same name is merged (and listed again, as buildx
// does; dedupeConfig folds the copies).
func mergeConfig(c1, c2 Config) Config {
	if c1.Groups == nil {
		c1.Groups = []*Group{}
	}
	for _, g2 := range c2.Groups {
		var g1 *Group
		for _, g := range c1.Groups {
			if g.Name == g2.Name {
				g1 = g
				break
			}
		}
		if g1 == nil {
			c1.Groups = append(c1.Groups, g2)
			continue
		}
		for _, t := range g2.Targets {
			if !slices.Contains(g1.Targets, t) {
				g1.Targets = append(g1.Targets, t)
			}
		}
		c1.Groups = append(c1.Groups, g1)
	}
	if c1.Targets == nil {
		c1.Targets = []*Target{}
	}
	for _, t2 := range c2.Targets {
		for _, t := range c1.Targets {
			if t.Name == t2.Name {
				t.Merge(t2)
				t2 = t
				break
			}
		}
		c1.Targets = append(c1.Targets, t2)
	}
	return c1
}

// dedupeConfig folds targets of the same name (merging later ones into the first) and
// drops duplicate group members.
func dedupeConfig(c Config) Config {
	c2 := c
	c2.Groups = make([]*Group, 0, len(c.Groups))
	for _, g := range c.Groups {
		g1 := *g
		g1.Targets = dedupSlice(g1.Targets)
		c2.Groups = append(c2.Groups, &g1)
	}
	c2.Targets = make([]*Target, 0, len(c.Targets))
	seen := map[string]*Target{}
	for _, t := range c.Targets {
		if t2, ok := seen[t.Name]; ok {
			if t2 != t {
				t2.Merge(t)
			}
			continue
		}
		seen[t.Name] = t
		c2.Targets = append(c2.Targets, t)
	}
	return c2
}
