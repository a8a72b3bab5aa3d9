package remotecache

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// The cache types, buildx's names.
const (
	TypeRegistry = "registry"
	TypeLocal    = "local"
	TypeInline   = "inline"
)

// DefaultTag is the tag a local cache is written under and read from, as buildx's.
const DefaultTag = "latest"

// Export is one --cache-to: where the build's cache records go.
type Export struct {
	Type string // TypeRegistry, TypeLocal or TypeInline
	Ref  string // registry: the cache manifest's reference
	Dest string // local: the directory (an OCI layout)
	Tag  string // local: the tag in the layout's index.json
	// Max exports every stage's records (mode=max); else only the target's (mode=min).
	Max bool
	// OCIMediaTypes writes an OCI manifest (the default); false writes a Docker schema 2 one.
	OCIMediaTypes bool
	// IgnoreError makes a failed export a warning instead of a failed build.
	IgnoreError bool
	// Insecure allows plain HTTP to this registry (registry.insecure=true).
	Insecure bool
	// MountFrom are image references whose repositories already hold the layers (the
	// images the build pushed): layers are mounted from there rather than uploaded again.
	MountFrom []string
}

// Import is one --cache-from: where cache records are looked up.
type Import struct {
	Type   string // TypeRegistry or TypeLocal
	Ref    string // registry: a cache manifest, or an image with an inline cache
	Src    string // local: the directory (an OCI layout)
	Tag    string // local: the tag to read (DefaultTag)
	Digest string // local: the manifest digest, instead of a tag
	// Insecure allows plain HTTP to this registry (registry.insecure=true).
	Insecure bool
}

// String names the export in progress lines and errors.
func (e Export) String() string {
	switch e.Type {
	case TypeRegistry:
		return e.Ref
	case TypeLocal:
		return e.Dest + " (" + e.Tag + ")"
	}
	return "the image (inline)"
}

// String names the import in progress lines and errors.
func (i Import) String() string {
	switch {
	case i.Type == TypeRegistry:
		return i.Ref
	case i.Digest != "":
		return i.Src + "@" + i.Digest
	}
	return i.Src + " (" + i.Tag + ")"
}

// attrs reads a spec's attributes, refusing one that is not in known.
type attrs struct {
	flag  string
	typ   string
	m     map[string]string
	known map[string]bool
}

func (a *attrs) str(key string) string {
	a.known[key] = true
	return a.m[key]
}

func (a *attrs) boolean(key string, def bool) (bool, error) {
	a.known[key] = true
	v, ok := a.m[key]
	if !ok {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s type=%s: %s=%q: want true or false", a.flag, a.typ, key, v)
	}
	return b, nil
}

// rest refuses the attributes nothing read.
func (a *attrs) rest() error {
	var unknown []string
	for k := range a.m {
		if !a.known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return fmt.Errorf("%s type=%s: unknown attribute(s) %s", a.flag, a.typ, strings.Join(unknown, ", "))
}

// unsupportedType explains a cache type buildx has and hush does not.
func unsupportedType(flag, typ string) error {
	switch typ {
	case "gha", "s3", "azblob":
		return fmt.Errorf("%s type=%s: not supported by hush; use type=registry (any OCI registry) or type=local", flag, typ)
	case "":
		return fmt.Errorf("%s: type required", flag)
	}
	return fmt.Errorf("%s type=%s: unknown cache type; want registry, local or inline", flag, typ)
}

// ParseExport reads one --cache-to entry (its type and attributes, as buildx's CSV gives
// them) with BuildKit's defaults: mode=min, oci-mediatypes=true, ignore-error=false.
func ParseExport(typ string, m map[string]string) (Export, error) {
	a := &attrs{flag: "--cache-to", typ: typ, m: m, known: map[string]bool{}}
	e := Export{Type: typ}
	switch typ {
	case TypeRegistry:
		if e.Ref = a.str("ref"); e.Ref == "" {
			return e, fmt.Errorf("--cache-to type=registry: ref required (ref=REGISTRY/REPO:TAG)")
		}
	case TypeLocal:
		if e.Dest = a.str("dest"); e.Dest == "" {
			return e, fmt.Errorf("--cache-to type=local: dest required (dest=DIR)")
		}
		if e.Tag = a.str("tag"); e.Tag == "" {
			e.Tag = DefaultTag
		}
	case TypeInline:
		if mode := a.str("mode"); mode != "" && mode != "min" {
			return e, fmt.Errorf("--cache-to type=inline: mode=%s: an inline cache holds the image's own steps only (mode=min); use type=registry,mode=max", mode)
		}
		return e, a.rest()
	default:
		return e, unsupportedType("--cache-to", typ)
	}
	if err := e.parseCommon(a); err != nil {
		return e, err
	}
	return e, a.rest()
}

// parseCommon reads the attributes registry and local exports share.
func (e *Export) parseCommon(a *attrs) error {
	switch mode := a.str("mode"); mode {
	case "", "min":
	case "max":
		e.Max = true
	default:
		return fmt.Errorf("--cache-to type=%s: mode=%s: want min or max", e.Type, mode)
	}
	var err error
	if e.OCIMediaTypes, err = a.boolean("oci-mediatypes", true); err != nil {
		return err
	}
	if _, err = a.boolean("image-manifest", true); err != nil { // hush always writes one
		return err
	}
	if e.IgnoreError, err = a.boolean("ignore-error", false); err != nil {
		return err
	}
	if e.Type == TypeRegistry {
		if e.Insecure, err = a.boolean("registry.insecure", false); err != nil {
			return err
		}
	}
	return checkCompression(a)
}

// checkCompression accepts what keeps the cache's layers the images' own blobs: gzip.
func checkCompression(a *attrs) error {
	switch c := a.str("compression"); c {
	case "", "gzip":
	default:
		return fmt.Errorf("--cache-to type=%s: compression=%s: hush exports the images' own gzip layers (a registry stores each once); only compression=gzip is supported", a.typ, c)
	}
	force, err := a.boolean("force-compression", false)
	if err != nil {
		return err
	}
	if force || a.str("compression-level") != "" {
		return fmt.Errorf("--cache-to type=%s: force-compression and compression-level would recompress the images' layers; hush exports them as they are", a.typ)
	}
	return nil
}

// ParseImport reads one --cache-from entry.
func ParseImport(typ string, m map[string]string) (Import, error) {
	a := &attrs{flag: "--cache-from", typ: typ, m: m, known: map[string]bool{}}
	im := Import{Type: typ}
	var err error
	switch typ {
	case TypeRegistry:
		if im.Ref = a.str("ref"); im.Ref == "" {
			return im, fmt.Errorf("--cache-from type=registry: ref required (ref=REGISTRY/REPO:TAG)")
		}
		if im.Insecure, err = a.boolean("registry.insecure", false); err != nil {
			return im, err
		}
	case TypeLocal:
		if im.Src = a.str("src"); im.Src == "" {
			return im, fmt.Errorf("--cache-from type=local: src required (src=DIR)")
		}
		im.Digest = a.str("digest")
		if im.Tag = a.str("tag"); im.Tag == "" && im.Digest == "" {
			im.Tag = DefaultTag
		}
	case TypeInline:
		return im, fmt.Errorf("--cache-from type=inline: inline is an export type; import an image's inline cache with --cache-from type=registry,ref=IMAGE")
	default:
		return im, unsupportedType("--cache-from", typ)
	}
	return im, a.rest()
}

// CheckExports refuses two exports to the same place, as BuildKit does ("duplicate cache
// exports"); a second type=inline is dropped.
func CheckExports(exports []Export) ([]Export, error) {
	seen := map[string]bool{}
	var out []Export
	inline := false
	for _, e := range exports {
		if e.Type == TypeInline {
			if !inline {
				out = append(out, e)
			}
			inline = true
			continue
		}
		k := e.Type + "\x00" + e.Ref + "\x00" + e.Dest + "\x00" + e.Tag
		if seen[k] {
			return nil, fmt.Errorf("--cache-to: duplicate cache exports to %s", e)
		}
		seen[k] = true
		out = append(out, e)
	}
	return out, nil
}
