package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ConfigKeys are the fields of an image config's "config" object that the golden keeps:
// everything a Dockerfile sets. (Image, Hostname, Domainname, Tty and the like are left to
// whatever the base and the builder's defaults say, which a Dockerfile cannot change.)
var ConfigKeys = []string{"ArgsEscaped", "Cmd", "Entrypoint", "Env", "ExposedPorts", "Healthcheck",
	"Labels", "OnBuild", "Shell", "StopSignal", "User", "Volumes", "WorkingDir"}

// Summary is what the golden files of one image hold.
type Summary struct {
	// Config is the kept part of the image config: "author" and the ConfigKeys of
	// "config", with null values left out (one builder writes `"Cmd": null` where another
	// leaves the key out; both mean unset).
	Config map[string]any
	// History is one line per history entry (times left out: they are build times).
	History []string
	// Layers lists each layer's entries; a base layer is listed by the word "base" alone
	// (its content is the input both builders were given, not a result).
	Layers [][]string
}

// Read summarises the one image of the OCI archive file. isBase reports whether a layer
// (by diff ID) is one of the base image's.
func Read(file string, isBase func(diffID string) bool) (*Summary, error) {
	a, err := readArchive(file)
	if err != nil {
		return nil, err
	}
	m, _, err := a.image()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	raw, err := a.blob(m.Config.Digest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	s := &Summary{}
	diffIDs, err := s.readConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(diffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("%s: %d layers for %d diff IDs", file, len(m.Layers), len(diffIDs))
	}
	for i, l := range m.Layers {
		if isBase != nil && isBase(diffIDs[i]) {
			s.Layers = append(s.Layers, []string{"base"})
			continue
		}
		b, err := a.blob(l.Digest)
		if err != nil {
			return nil, fmt.Errorf("%s: layer %d: %w", file, i+1, err)
		}
		entries, err := readLayer(b, l.MediaType)
		if err != nil {
			return nil, fmt.Errorf("%s: layer %d: %w", file, i+1, err)
		}
		lines := []string{}
		for _, e := range normaliseLayer(entries) {
			lines = append(lines, e.String())
		}
		s.Layers = append(s.Layers, lines)
	}
	return s, nil
}

type configFile struct {
	Author  string                     `json:"author"`
	Config  map[string]json.RawMessage `json:"config"`
	History []struct {
		CreatedBy  string `json:"created_by"`
		Comment    string `json:"comment"`
		EmptyLayer bool   `json:"empty_layer"`
	} `json:"history"`
	RootFS struct {
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// readConfig fills Config and History and returns the layers' diff IDs.
func (s *Summary) readConfig(raw []byte) ([]string, error) {
	var cf configFile
	if err := json.Unmarshal(raw, &cf); err != nil {
		return nil, fmt.Errorf("parsing config: %w", err)
	}
	s.Config = map[string]any{}
	if cf.Author != "" {
		s.Config["author"] = cf.Author
	}
	for _, k := range ConfigKeys {
		v, ok := cf.Config[k]
		if !ok || string(v) == "null" {
			continue
		}
		var val any
		if err := json.Unmarshal(v, &val); err != nil {
			return nil, fmt.Errorf("parsing config %s: %w", k, err)
		}
		s.Config[k] = val
	}
	for _, h := range cf.History {
		layer := "layer"
		if h.EmptyLayer {
			layer = "empty"
		}
		s.History = append(s.History, fmt.Sprintf("%s %s %s", layer, h.Comment, quote(h.CreatedBy)))
	}
	return cf.RootFS.DiffIDs, nil
}

// Golden file names, and what each holds.
const (
	ConfigFile  = "config.json" // Summary.Config, indented JSON
	HistoryFile = "history.txt" // one line per entry: layer|empty, comment, created_by as JSON
	LayersFile  = "layers.txt"  // "# layer N" then one line per entry
)

// Files renders the golden files.
func (s *Summary) Files() (map[string][]byte, error) {
	cfg, err := json.MarshalIndent(s.Config, "", "  ")
	if err != nil {
		return nil, err
	}
	var layers bytes.Buffer
	for i, l := range s.Layers {
		fmt.Fprintf(&layers, "# layer %d\n", i+1)
		for _, line := range l {
			layers.WriteString(line + "\n")
		}
	}
	return map[string][]byte{
		ConfigFile:  append(cfg, '\n'),
		HistoryFile: []byte(strings.Join(s.History, "\n") + "\n"),
		LayersFile:  layers.Bytes(),
	}, nil
}

// quote is s as a JSON string, with <, > and & as they are.
func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// BaseLayers reads what `hush inspect` prints for the base image — an image config, or
// docker's inspect shape (a list of objects with RootFS.Layers) — and reports which diff
// IDs are its layers.
func BaseLayers(inspect []byte) (func(diffID string) bool, error) {
	var ids []string
	var cf configFile
	if err := json.Unmarshal(inspect, &cf); err == nil {
		ids = cf.RootFS.DiffIDs
	} else {
		var list []struct {
			RootFS struct{ Layers []string }
		}
		if err := json.Unmarshal(inspect, &list); err != nil || len(list) != 1 {
			return nil, fmt.Errorf("want one image config or one docker inspect object: %v", err)
		}
		ids = list[0].RootFS.Layers
	}
	if len(ids) == 0 {
		return nil, errors.New("the base image has no layers")
	}
	set := map[string]bool{}
	for _, d := range ids {
		set[d] = true
	}
	return func(d string) bool { return set[d] }, nil
}
