package buildflags

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/hush-build/hush/internal/image"
)

// annotationType is buildx's annotation type with an optional platform in brackets.
var annotationType = regexp.MustCompile(`^([a-z-]+)(?:\[([A-Za-z0-9_/-]+)\])?$`)

// ParseAnnotations reads --annotation values, buildx's [TYPE[,TYPE…]:]KEY=VALUE where a
// TYPE is manifest, manifest-descriptor, index or index-descriptor, optionally with a
// platform (manifest[linux/arm64]); without a type an annotation goes on the manifest.
func ParseAnnotations(values []string) (image.Annotations, error) {
	var a image.Annotations
	for _, in := range values {
		if in == "" {
			continue
		}
		k, v, ok := strings.Cut(in, "=")
		if !ok {
			return a, fmt.Errorf("--annotation %q: invalid annotation, expected key=value", in)
		}
		types, key, ok := strings.Cut(k, ":")
		if !ok {
			if err := a.Add("", "", k, v); err != nil {
				return a, fmt.Errorf("--annotation %q: %w", in, err)
			}
			continue
		}
		for tp := range strings.SplitSeq(types, ",") {
			g := annotationType.FindStringSubmatch(tp)
			if g == nil {
				return a, fmt.Errorf("--annotation %q: invalid annotation type %q, expected type and optional platform in square brackets", in, tp)
			}
			if err := a.Add(g[1], g[2], key, v); err != nil {
				return a, fmt.Errorf("--annotation %q: %w", in, err)
			}
		}
	}
	return a, nil
}
