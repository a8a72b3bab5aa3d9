package image

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

const (
	dockerHub        = "docker.io"
	dockerHubLibrary = "docker.io/library/"
)

// NormalizeName turns a user-supplied image reference into the fully
// qualified form hush stores: "busybox" becomes
// "docker.io/library/busybox:latest", "ghcr.io/o/r@sha256:…" stays a digest
// reference. The registry "index.docker.io" is spelled "docker.io" like docker.
func NormalizeName(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("normalizing image name %q: empty name", s)
	}
	if strings.TrimSpace(s) != s {
		return "", fmt.Errorf("normalizing image name %q: surrounding whitespace", s)
	}
	ref, err := name.ParseReference(s)
	if err != nil {
		return "", fmt.Errorf("normalizing image name %q: %w", s, err)
	}
	repo := repoName(ref.Context())
	switch r := ref.(type) {
	case name.Tag:
		return repo + ":" + r.TagStr(), nil
	case name.Digest:
		return repo + "@" + r.DigestStr(), nil
	default:
		return "", fmt.Errorf("normalizing image name %q: unsupported reference type %T", s, ref)
	}
}

// repoName is the repository with docker's spelling of the Docker Hub host.
func repoName(r name.Repository) string {
	reg := r.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = dockerHub
	}
	return reg + "/" + r.RepositoryStr()
}

// FamiliarName shortens a normalized name for display the way docker does:
// "docker.io/library/busybox:latest" becomes "busybox:latest" and
// "docker.io/me/app:1" becomes "me/app:1". Other names are returned as is.
func FamiliarName(s string) string {
	if rest, ok := strings.CutPrefix(s, dockerHubLibrary); ok && !strings.Contains(repoPart(rest), "/") {
		return rest
	}
	if rest, ok := strings.CutPrefix(s, dockerHub+"/"); ok {
		return rest
	}
	return s
}

// repoPart strips a ":tag" or "@digest" suffix from a name without registry.
func repoPart(s string) string {
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 && !strings.Contains(s[i:], "/") {
		s = s[:i]
	}
	return s
}

// splitName returns the repository ("docker.io/library/busybox") and the
// tag or digest ("latest", "sha256:…") of a normalized name.
func splitName(normalized string) (repo, object string) {
	if i := strings.IndexByte(normalized, '@'); i >= 0 {
		return normalized[:i], normalized[i+1:]
	}
	i := strings.LastIndexByte(normalized, ':')
	if i < 0 || strings.Contains(normalized[i:], "/") {
		return normalized, ""
	}
	return normalized[:i], normalized[i+1:]
}
