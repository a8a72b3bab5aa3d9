package buildflags

import (
	"fmt"
	"strings"

	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/gitsource"
	"github.com/hush-build/hush/internal/image"
)

// ParseContexts reads --build-context values, buildx's NAME=VALUE where VALUE is a local
// directory, docker-image://REF, oci-layout://DIR[:TAG|@DIGEST] or a Git URL. Names are
// normalized as buildx does (familiar, without ":latest"): "alpine" and
// "docker.io/library/alpine:latest" are one name.
func ParseContexts(values []string) (map[string]builder.NamedContext, error) {
	out := map[string]builder.NamedContext{}
	for _, v := range values {
		if v == "" {
			continue
		}
		k, val, ok := strings.Cut(v, "=")
		if !ok {
			return nil, fmt.Errorf("--build-context %q: invalid context value, expected key=value", v)
		}
		if _, err := image.NormalizeName(k); err != nil {
			return nil, fmt.Errorf("--build-context %q: invalid context name %s: %w", v, k, err)
		}
		nc, err := parseContextValue(val)
		if err != nil {
			return nil, fmt.Errorf("--build-context %q: %w", v, err)
		}
		out[builder.ContextName(k)] = nc
	}
	return out, nil
}

func parseContextValue(val string) (builder.NamedContext, error) {
	switch {
	case val == "":
		return builder.NamedContext{}, fmt.Errorf("empty value: want a directory, docker-image://REF, oci-layout://DIR or a Git URL")
	case strings.HasPrefix(val, "docker-image://"):
		ref := strings.TrimPrefix(val, "docker-image://")
		if _, err := image.NormalizeName(ref); err != nil {
			return builder.NamedContext{}, fmt.Errorf("docker-image://%s: %w", ref, err)
		}
		return builder.NamedContext{Kind: builder.ContextImage, Ref: ref}, nil
	case strings.HasPrefix(val, "oci-layout://"):
		return parseLayout(strings.TrimPrefix(val, "oci-layout://"))
	case strings.HasPrefix(val, "target:"), strings.HasPrefix(val, "input:"):
		return builder.NamedContext{}, fmt.Errorf("%s contexts belong to bake", strings.SplitN(val, ":", 2)[0])
	}
	if _, isGit, err := gitsource.Parse(val); isGit {
		if err != nil {
			return builder.NamedContext{}, err
		}
		return builder.NamedContext{Kind: builder.ContextGit, Ref: val}, nil
	}
	if strings.HasPrefix(val, "http://") || strings.HasPrefix(val, "https://") {
		return builder.NamedContext{}, fmt.Errorf("a tarball URL as a build context is not supported yet (a directory, docker-image://, oci-layout:// or a Git URL)")
	}
	return builder.NamedContext{Kind: builder.ContextDir, Ref: val}, nil
}

// parseLayout reads DIR[:TAG|@DIGEST] of an oci-layout:// context.
func parseLayout(s string) (builder.NamedContext, error) {
	nc := builder.NamedContext{Kind: builder.ContextOCILayout, Ref: s}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		nc.Ref, nc.Digest = s[:i], s[i+1:]
		if !strings.HasPrefix(nc.Digest, "sha256:") || len(nc.Digest) != 71 {
			return nc, fmt.Errorf("oci-layout://%s: invalid digest %q", s, nc.Digest)
		}
	} else if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
		nc.Ref, nc.Tag = s[:i], s[i+1:]
	}
	if nc.Ref == "" {
		return nc, fmt.Errorf("oci-layout://%s: no directory", s)
	}
	return nc, nil
}
