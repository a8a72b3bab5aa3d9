package image

import (
	"fmt"
	"regexp"

	"github.com/containerd/platforms"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Annotations are an output's annotations by where BuildKit puts them: on the index, on
// the index's descriptor (an OCI layout's index.json), on each manifest, on each
// manifest's descriptor. Manifest annotations are keyed by platform ("" for every one).
type Annotations struct {
	Index, IndexDescriptor       map[string]string
	Manifest, ManifestDescriptor map[string]map[string]string
}

// annotationAttr is an exporter attribute naming an annotation: annotation.KEY,
// annotation-TYPE.KEY, annotation-TYPE[PLATFORM].KEY (BuildKit's grammar).
var annotationAttr = regexp.MustCompile(`^annotation(?:-([a-z-]+))?(?:\[([A-Za-z0-9_/-]+)\])?\.(\S+)$`)

// IsAnnotationAttr reports an exporter attribute key that is an annotation.
func IsAnnotationAttr(k string) bool { return annotationAttr.MatchString(k) }

// AddAttr adds the annotation exporter attribute k=v (IsAnnotationAttr(k)); an attribute
// without a type is a manifest annotation, as in BuildKit.
func (a *Annotations) AddAttr(k, v string) error {
	g := annotationAttr.FindStringSubmatch(k)
	if g == nil {
		return fmt.Errorf("%s: not an annotation", k)
	}
	return a.Add(g[1], g[2], g[3], v)
}

// Add adds one annotation of type typ ("" means manifest) for platform plat ("" for
// every platform; index annotations take none).
func (a *Annotations) Add(typ, plat, key, value string) error {
	if plat != "" {
		p, err := platforms.Parse(plat)
		if err != nil {
			return fmt.Errorf("annotation %s: platform %q: %w", key, plat, err)
		}
		plat = platforms.FormatAll(platforms.Normalize(p))
	}
	switch typ {
	case "", "manifest":
		a.Manifest = addTo(a.Manifest, plat, key, value)
	case "manifest-descriptor":
		a.ManifestDescriptor = addTo(a.ManifestDescriptor, plat, key, value)
	case "index", "index-descriptor":
		if plat != "" {
			return fmt.Errorf("annotation %s: %s annotations take no platform", key, typ)
		}
		if typ == "index" {
			a.Index = setIn(a.Index, key, value)
		} else {
			a.IndexDescriptor = setIn(a.IndexDescriptor, key, value)
		}
	default:
		return fmt.Errorf("annotation %s: unknown annotation type %q (want manifest, manifest-descriptor, index or index-descriptor)", key, typ)
	}
	return nil
}

func addTo(m map[string]map[string]string, plat, key, value string) map[string]map[string]string {
	if m == nil {
		m = map[string]map[string]string{}
	}
	m[plat] = setIn(m[plat], key, value)
	return m
}

func setIn(m map[string]string, key, value string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[key] = value
	return m
}

// Merge adds o's annotations to a (o wins on a key both have).
func (a *Annotations) Merge(o Annotations) {
	for k, v := range o.Index {
		a.Index = setIn(a.Index, k, v)
	}
	for k, v := range o.IndexDescriptor {
		a.IndexDescriptor = setIn(a.IndexDescriptor, k, v)
	}
	for p, m := range o.Manifest {
		for k, v := range m {
			a.Manifest = addTo(a.Manifest, p, k, v)
		}
	}
	for p, m := range o.ManifestDescriptor {
		for k, v := range m {
			a.ManifestDescriptor = addTo(a.ManifestDescriptor, p, k, v)
		}
	}
}

// platformString is containerd's full form of p (os/arch[/variant]).
func platformString(p v1.Platform) string {
	if p.OS == "" {
		return ""
	}
	return platforms.FormatAll(platforms.Normalize(ocispecPlatform(p)))
}

// platformsOf lists the manifest platforms annotations name, for checking them against
// the built ones.
func (a Annotations) platformsOf() []string {
	var out []string
	for _, m := range []map[string]map[string]string{a.Manifest, a.ManifestDescriptor} {
		for p := range m {
			if p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// checkPlatforms refuses annotations naming a platform the artifact does not have.
func (a Annotations) checkPlatforms(imgs []PlatformImage) error {
	have := map[string]bool{}
	for _, pi := range imgs {
		have[platformString(pi.Platform)] = true
	}
	for _, p := range a.platformsOf() {
		if !have[p] {
			return fmt.Errorf("invalid annotation: no platform %s found in source", p)
		}
	}
	return nil
}

// ocispecPlatform is p in the OCI spec's type.
func ocispecPlatform(p v1.Platform) ocispecs.Platform {
	return ocispecs.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant,
		OSVersion: p.OSVersion, OSFeatures: p.OSFeatures}
}
