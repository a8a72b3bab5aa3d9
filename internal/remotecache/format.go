package remotecache

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hush-build/hush/internal/cache"
)

// The cache manifest's identifiers (docs/spec/cache-export.md).
const (
	// ArtifactType is the artifactType of a hush cache manifest.
	ArtifactType = "application/vnd.hush.cache.v1"
	// ConfigMediaType is the media type of its config blob, a Config.
	ConfigMediaType types.MediaType = "application/vnd.hush.cache.config.v1+json"
	// InlineAnnotation is the image manifest annotation an inline cache is kept in.
	InlineAnnotation = "dev.hush.cache.v1"
	// Version is the format version this hush writes and reads.
	Version = 1
)

// Config is the cache manifest's config: which key maps to which layer.
type Config struct {
	// Version is the format's version (Version); an importer skips one it does not know.
	Version int `json:"version"`
	// KeyFormat is how the keys were computed (cache.KeyFormat); an importer skips a cache
	// whose keys it would never compute.
	KeyFormat string `json:"keyFormat"`
	// Layers are the manifest's layers, in its order, with their uncompressed digests.
	Layers []LayerInfo `json:"layers"`
	// Records are the steps' cache records.
	Records []RecordInfo `json:"records"`
}

// LayerInfo is one layer of the manifest: its digest and its diffID.
type LayerInfo struct {
	Digest string `json:"digest"`
	DiffID string `json:"diffID"`
}

// RecordInfo is one step: its cache key, the index of its layer in Layers (none for a step
// that changed nothing) and its history time, which the image's history carries (an image
// built from imported records has the same ID as the exporter's).
type RecordInfo struct {
	Key     string    `json:"key"`
	Layer   *int      `json:"layer,omitempty"`
	Created time.Time `json:"created"`
}

// Entry is one step record a build hands to an export: its key, its record and its layer
// (nil for an empty change).
type Entry struct {
	Key    string
	Record *cache.Record
	Layer  v1.Layer
}

// newConfig lists entries (duplicate keys once) and their distinct layers, first seen first.
func newConfig(entries []Entry) (*Config, []v1.Layer, error) {
	c := &Config{Version: Version, KeyFormat: cache.KeyFormat, Layers: []LayerInfo{}}
	var layers []v1.Layer
	index := map[v1.Hash]int{}
	err := c.addRecords(entries, func(l v1.Layer, d v1.Hash) (int, error) {
		if i, ok := index[d]; ok {
			return i, nil
		}
		diff, err := l.DiffID()
		if err != nil {
			return 0, fmt.Errorf("reading layer diffID: %w", err)
		}
		index[d] = len(layers)
		layers = append(layers, l)
		c.Layers = append(c.Layers, LayerInfo{Digest: d.String(), DiffID: diff.String()})
		return index[d], nil
	})
	return c, layers, err
}

// addRecords adds a record per entry (duplicate keys once); layerIndex gives the index in
// Layers of an entry's layer (digest d).
func (c *Config) addRecords(entries []Entry, layerIndex func(l v1.Layer, d v1.Hash) (int, error)) error {
	c.Records = []RecordInfo{}
	keys := map[string]bool{}
	for _, e := range entries {
		if keys[e.Key] {
			continue
		}
		keys[e.Key] = true
		r := RecordInfo{Key: e.Key, Created: e.Record.Created.UTC()}
		if e.Layer != nil {
			d, err := e.Layer.Digest()
			if err != nil {
				return fmt.Errorf("reading layer digest: %w", err)
			}
			i, err := layerIndex(e.Layer, d)
			if err != nil {
				return err
			}
			r.Layer = &i
		}
		c.Records = append(c.Records, r)
	}
	return nil
}

// errSkip marks a cache this hush cannot use (another version or key format): the import
// is skipped with a warning, as a missing one is.
var errSkip = errors.New("skipped")

// parseConfig reads a Config and checks it against the manifest's layers.
func parseConfig(raw []byte, layers []v1.Descriptor) (*Config, error) {
	var c Config
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("reading the cache config: %w", err)
	}
	if c.Version != Version {
		return nil, fmt.Errorf("cache format version %d (this hush reads version %d): %w", c.Version, Version, errSkip)
	}
	if c.KeyFormat != cache.KeyFormat {
		return nil, fmt.Errorf("cache keys of format %q (this hush computes %q): %w", c.KeyFormat, cache.KeyFormat, errSkip)
	}
	if len(c.Layers) != len(layers) {
		return nil, fmt.Errorf("the cache config lists %d layer(s), the manifest %d", len(c.Layers), len(layers))
	}
	for i, l := range c.Layers {
		if l.Digest != layers[i].Digest.String() {
			return nil, fmt.Errorf("the cache config's layer %d is %s, the manifest's %s", i, l.Digest, layers[i].Digest)
		}
		if _, err := v1.NewHash(l.DiffID); err != nil {
			return nil, fmt.Errorf("the cache config's layer %d: diffID: %w", i, err)
		}
		if !gzipLayer(layers[i].MediaType) {
			return nil, fmt.Errorf("layer %s: media type %q is not a gzip layer", l.Digest, layers[i].MediaType)
		}
	}
	for _, r := range c.Records {
		if _, err := v1.NewHash(r.Key); err != nil {
			return nil, fmt.Errorf("a cache record's key: %w", err)
		}
		if r.Layer != nil && (*r.Layer < 0 || *r.Layer >= len(layers)) {
			return nil, fmt.Errorf("the cache record %s names layer %d of %d", r.Key, *r.Layer, len(layers))
		}
	}
	return &c, nil
}

// gzipLayer reports the layer media types hush writes and reads: gzip tars.
func gzipLayer(mt types.MediaType) bool {
	return mt == types.OCILayer || mt == types.DockerLayer
}

// inlineConfig is the Config of an inline cache: its Layers are all of img's, in the
// manifest's order (base image layers included), so records index the image's own layers.
func inlineConfig(img v1.Image, entries []Entry) (string, error) {
	m, err := img.Manifest()
	if err != nil {
		return "", err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return "", fmt.Errorf("the image has %d layers and %d diffIDs", len(m.Layers), len(cf.RootFS.DiffIDs))
	}
	c := &Config{Version: Version, KeyFormat: cache.KeyFormat}
	index := map[v1.Hash]int{}
	for i, l := range m.Layers {
		c.Layers = append(c.Layers, LayerInfo{Digest: l.Digest.String(), DiffID: cf.RootFS.DiffIDs[i].String()})
		if _, ok := index[l.Digest]; !ok {
			index[l.Digest] = i
		}
	}
	err = c.addRecords(entries, func(_ v1.Layer, d v1.Hash) (int, error) {
		i, ok := index[d]
		if !ok {
			return 0, fmt.Errorf("layer %s is not in the image", d)
		}
		return i, nil
	})
	if err != nil {
		return "", err
	}
	raw, err := json.Marshal(c)
	return string(raw), err
}
