package pipeline

import (
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/hush-build/hush/internal/codeship"
	"github.com/hush-build/hush/internal/remotecache"
)

// cacheTagPrefix starts the tag a `cached: true` service's cache is kept under.
const cacheTagPrefix = "hush-cache-"

// defaultCacheBranch is the fallback cache branch when default_cache_branch is not set.
const defaultCacheBranch = "master"

// serviceCache is what Codeship's `cached: true` meant, on a registry: a per-service,
// per-branch cache. The build imports IMAGE:hush-cache-BRANCH, then the fallback branch's
// (default_cache_branch, else master), and exports every stage's records (mode=max) to its
// branch's tag. A failed export is a warning (Codeship's cache never failed a build). The
// cache goes where the image's name points, with the service's registry credentials; a name
// without a registry namespace (docker.io/library/…) has nowhere to go: warn says so.
func serviceCache(svc *codeship.Service, image, branch string) (from []remotecache.Import, to []remotecache.Export, warn string) {
	ref, err := name.ParseReference(image)
	if err != nil {
		return nil, nil, "service " + svc.Name + ": cached: true: image " + image + ": " + err.Error()
	}
	repo := ref.Context()
	if repo.RegistryStr() == name.DefaultRegistry && strings.HasPrefix(repo.RepositoryStr(), "library/") {
		return nil, nil, "service " + svc.Name + ": cached: true needs the image named in a registry you can push to (e.g. registry.example.com/team/" +
			strings.TrimPrefix(repo.RepositoryStr(), "library/") + "); building without a cache"
	}
	fallback := svc.DefaultCacheBranch
	if fallback == "" {
		fallback = defaultCacheBranch
	}
	tagOf := func(b string) string { return repo.Name() + ":" + cacheTag(b) }
	if branch != "" {
		from = append(from, remotecache.Import{Type: remotecache.TypeRegistry, Ref: tagOf(branch)})
		to = append(to, remotecache.Export{Type: remotecache.TypeRegistry, Ref: tagOf(branch), Max: true,
			OCIMediaTypes: true, IgnoreError: true})
	}
	if fallback != branch {
		from = append(from, remotecache.Import{Type: remotecache.TypeRegistry, Ref: tagOf(fallback)})
	}
	return from, to, ""
}

var notTagChar = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// cacheTag is the tag of a branch's cache: the branch with every character a tag cannot
// hold replaced by "-", within a tag's 128 characters.
func cacheTag(branch string) string {
	t := cacheTagPrefix + notTagChar.ReplaceAllString(branch, "-")
	if len(t) > 128 {
		t = t[:128]
	}
	return t
}
