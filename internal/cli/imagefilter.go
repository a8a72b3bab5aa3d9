package cli

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/hush-build/hush/internal/image"
)

// imageFilters are docker images' --filter values, docker's semantics: dangling,
// reference (a glob on the familiar name, with or without its tag), before and since
// (another image's creation), label (KEY or KEY=VALUE, all must match).
type imageFilters struct {
	dangling      *bool
	references    []string
	before, since []string
	labels        []string
}

func parseImageFilters(values []string) (imageFilters, error) {
	var f imageFilters
	var dangling []string
	for _, v := range values {
		k, val, ok := strings.Cut(v, "=")
		if !ok {
			return f, fmt.Errorf("bad format of filter (expected name=value)")
		}
		switch k = strings.ToLower(strings.TrimSpace(k)); k {
		case "dangling":
			dangling = append(dangling, val)
		case "reference":
			f.references = append(f.references, val)
		case "before":
			f.before = append(f.before, val)
		case "since":
			f.since = append(f.since, val)
		case "label":
			f.labels = append(f.labels, val)
		default:
			return f, fmt.Errorf("invalid filter '%s'", k)
		}
	}
	if len(dangling) > 0 {
		isTrue := slices.Contains(dangling, "true") || slices.Contains(dangling, "1")
		isFalse := slices.Contains(dangling, "false") || slices.Contains(dangling, "0")
		if isTrue == isFalse {
			return f, fmt.Errorf("invalid filter 'dangling=%v'", dangling)
		}
		f.dangling = &isTrue
	}
	return f, nil
}

// apply keeps the images every filter matches.
func (f imageFilters) apply(sums []imageSummary) ([]imageSummary, error) {
	before, err := createdOf(sums, f.before)
	if err != nil {
		return nil, err
	}
	since, err := createdOf(sums, f.since)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(sums, func(s imageSummary) bool {
		switch {
		case f.dangling != nil && *f.dangling != (len(s.RepoTags) == 0):
		case len(f.references) > 0 && !matchesReference(s, f.references):
		case before != nil && s.Created >= *before:
		case since != nil && s.Created <= *since:
		case !matchesLabels(s.Labels, f.labels):
		default:
			return false
		}
		return true
	}), nil
}

// createdOf is the creation time of the image refs name (the newest of several, as the
// last filter value wins in docker), nil without refs.
func createdOf(sums []imageSummary, refs []string) (*int64, error) {
	var out *int64
	for _, ref := range refs {
		i := slices.IndexFunc(sums, func(s imageSummary) bool { return imageIs(s, ref) })
		if i < 0 {
			return nil, fmt.Errorf("No such image: %s", ref)
		}
		c := sums[i].Created
		out = &c
	}
	return out, nil
}

// imageIs reports whether ref names s: its ID (or a prefix), a tag or a digest name.
func imageIs(s imageSummary, ref string) bool {
	id := strings.TrimPrefix(s.ID, "sha256:")
	if r := strings.TrimPrefix(ref, "sha256:"); len(r) >= 4 && strings.HasPrefix(id, r) {
		return true
	}
	norm, err := image.NormalizeName(ref)
	if err != nil {
		return false
	}
	f := image.FamiliarName(norm)
	return slices.Contains(s.RepoTags, f) || slices.Contains(s.RepoDigests, f)
}

// matchesReference is docker's reference filter: any pattern matching any of the image's
// names, whole ("busybox:latest") or without tag or digest ("busybox").
func matchesReference(s imageSummary, patterns []string) bool {
	for _, n := range append(slices.Clone(s.RepoTags), s.RepoDigests...) {
		name := n
		if i := strings.LastIndex(n, "@"); i >= 0 {
			name = n[:i]
		} else if i := strings.LastIndex(n, ":"); i > strings.LastIndex(n, "/") {
			name = n[:i]
		}
		for _, p := range patterns {
			if ok, _ := path.Match(p, n); ok {
				return true
			}
			if ok, _ := path.Match(p, name); ok {
				return true
			}
		}
	}
	return false
}

// matchesLabels is docker's label filter: every KEY present, with VALUE when given.
func matchesLabels(labels map[string]string, want []string) bool {
	for _, w := range want {
		k, v, hasValue := strings.Cut(w, "=")
		got, ok := labels[k]
		if !ok || (hasValue && got != v) {
			return false
		}
	}
	return true
}
