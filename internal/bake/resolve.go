package bake

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
)

// Definition is what a command resolved: the groups it named and every target they
// reach, by name (targets other targets link to as contexts included). Its JSON is
// `docker buildx bake --print`'s.
type Definition struct {
	Group  map[string]*Group  `json:"group,omitempty"`
	Target map[string]*Target `json:"target"`
}

// Resolve resolves the targets and groups names (patterns allowed) of c, with the --set
// overrides applied, as buildx's ReadTargets does.
func Resolve(c *Config, names, overrides []string) (*Definition, error) {
	var matched []string
	for _, n := range names {
		ms, err := c.matchNames(sanitizeTargetName(n))
		if err != nil {
			return nil, err
		}
		matched = append(matched, ms...)
	}
	names = dedupSlice(matched)
	o, err := c.newOverrides(overrides)
	if err != nil {
		return nil, err
	}
	d := &Definition{Group: map[string]*Group{}, Target: map[string]*Target{}}
	for _, name := range names {
		ts, gs := c.ResolveGroup(name)
		for _, tn := range ts {
			t, err := c.ResolveTarget(tn, o)
			if err != nil {
				return nil, err
			}
			d.Target[tn] = t
		}
		for _, gn := range gs {
			if g := c.group(gn); g != nil {
				d.Group[gn] = g
			}
		}
	}
	d.addDefaultGroup(names)
	for name, t := range d.Target {
		if err := c.loadLinks(name, t, d.Target, o, nil); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// addDefaultGroup lists in the "default" group the names asked for (unless "default" is
// a group asked for itself).
func (d *Definition) addDefaultGroup(names []string) {
	for _, n := range names {
		if _, ok := d.Group["default"]; ok && n == "default" {
			continue
		}
		if _, ok := d.Group["default"]; !ok {
			d.Group["default"] = &Group{Name: "default"}
		}
		d.Group["default"].Targets = append(d.Group["default"].Targets, n)
	}
	if g, ok := d.Group["default"]; ok {
		g.Targets = dedupSlice(g.Targets)
		sort.Strings(g.Targets)
	}
}

func (c *Config) group(name string) *Group {
	for _, g := range c.Groups {
		if g.Name == name {
			return g
		}
	}
	return nil
}

func (c *Config) findTarget(name string) *Target {
	for _, t := range c.Targets {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// matchNames expands a pattern (path.Match syntax) over groups and targets.
func (c *Config) matchNames(pattern string) ([]string, error) {
	if !strings.ContainsAny(pattern, "*?[]") {
		return []string{pattern}, nil
	}
	var names []string
	for _, g := range c.Groups {
		if ok, err := path.Match(pattern, g.Name); ok && err == nil {
			names = append(names, g.Name)
		}
	}
	for _, t := range c.Targets {
		if ok, err := path.Match(pattern, t.Name); ok && err == nil {
			names = append(names, t.Name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("could not find any target matching %q", pattern)
	}
	return names, nil
}

// ResolveGroup lists the targets a name reaches (itself when it is not a group) and the
// groups it went through.
func (c *Config) ResolveGroup(name string) (targets, groups []string) {
	targets, groups = c.resolveGroup(name, map[string]*[2][]string{})
	return dedupSlice(targets), dedupSlice(groups)
}

func (c *Config) resolveGroup(name string, visited map[string]*[2][]string) ([]string, []string) {
	if v, ok := visited[name]; ok {
		if v == nil {
			return nil, nil
		}
		return v[0], v[1]
	}
	g := c.group(name)
	if g == nil {
		return []string{name}, nil
	}
	visited[name] = nil
	targets := make([]string, 0, len(g.Targets))
	groups := []string{name}
	for _, t := range g.Targets {
		tt, tg := c.resolveGroup(t, visited)
		if len(tt) > 0 {
			targets = append(targets, tt...)
		} else {
			targets = append(targets, t)
		}
		groups = append(groups, tg...)
	}
	visited[name] = &[2][]string{targets, groups}
	return targets, groups
}

// ResolveTarget is the target name with everything it inherits and the overrides laid
// over it, context and dockerfile defaulted.
func (c *Config) ResolveTarget(name string, o map[string]map[string]Override) (*Target, error) {
	t, err := c.target(name, map[string]*Target{}, o)
	if err != nil {
		return nil, err
	}
	t.Name = name
	t.Inherits = nil
	if t.Context == nil {
		s := "."
		t.Context = &s
	}
	if t.Dockerfile == nil || *t.Dockerfile == "" {
		s := "Dockerfile"
		t.Dockerfile = &s
	}
	return t, nil
}

func (c *Config) target(name string, visited map[string]*Target, o map[string]map[string]Override) (*Target, error) {
	if t, ok := visited[name]; ok {
		return t, nil
	}
	visited[name] = nil
	t := c.findTarget(name)
	if t == nil {
		return nil, fmt.Errorf("failed to find target %s", name)
	}
	inherited := &Target{}
	for _, parent := range t.Inherits {
		pt, err := c.target(parent, visited, o)
		if err != nil {
			return nil, err
		}
		if pt != nil {
			inherited.Merge(pt)
		}
	}
	m := &Target{}
	m.Merge(inherited)
	m.Merge(t)
	if err := m.AddOverrides(o[name]); err != nil {
		return nil, err
	}
	m.normalize()
	visited[name] = m
	return m, nil
}

// loadLinks resolves the targets t's contexts name (target:NAME) and adds each, built
// only for its cache, to m.
func (c *Config) loadLinks(name string, t *Target, m map[string]*Target, o map[string]map[string]Override, visited []string) error {
	visited = append(visited, name)
	for _, v := range t.Contexts {
		linked, ok := strings.CutPrefix(v, "target:")
		if !ok {
			continue
		}
		if linked == name {
			return fmt.Errorf("target %s cannot link to itself", linked)
		}
		if slices.Contains(visited, linked) {
			return fmt.Errorf("infinite loop from %s to %s", name, linked)
		}
		t2, ok := m[linked]
		if !ok {
			var err error
			if t2, err = c.ResolveTarget(linked, o); err != nil {
				return err
			}
			t2.Outputs = Exports{{Type: "cacheonly"}}
			t2.linked = true
			m[linked] = t2
		}
		if err := c.loadLinks(linked, t2, m, o, visited); err != nil {
			return err
		}
		for _, e := range t2.Entitlements {
			if !slices.Contains(t.Entitlements, e) {
				t.Entitlements = append(t.Entitlements, e)
			}
		}
		if len(t.Platforms) > 1 && len(t2.Platforms) > 1 && !isSubset(t.Platforms, t2.Platforms) {
			return fmt.Errorf("target %s can't be used by %s because its platforms %v are not a subset of %v", linked, name, t.Platforms, t2.Platforms)
		}
	}
	return nil
}

func isSubset(s1, s2 []string) bool {
	for _, v := range s1 {
		if !slices.Contains(s2, v) {
			return false
		}
	}
	return true
}
