package bake

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/tonistiigi/go-csvvalue"
)

// Secret is one `secret` entry: an id and where its value comes from (a file or an
// environment variable; neither: the variable named ID if set, else the file named ID).
type Secret struct {
	ID       string `json:"id,omitempty"`
	FilePath string `json:"src,omitempty"`
	Env      string `json:"env,omitempty"`
}

// Secrets are a target's secrets; a later entry with the same id replaces an earlier one.
type Secrets []*Secret

// UnmarshalText parses `id=ID[,src=PATH|,env=VAR][,type=file|env]`.
func (s *Secret) UnmarshalText(text []byte) error {
	fields, err := csvvalue.Fields(string(text), nil)
	if err != nil {
		return fmt.Errorf("failed to parse csv secret: %w", err)
	}
	*s = Secret{}
	var typ string
	for _, field := range fields {
		key, value, ok := strings.Cut(field, "=")
		if !ok {
			return fmt.Errorf("invalid field '%s' must be a key=value pair", field)
		}
		switch strings.ToLower(key) {
		case "type":
			if value != "file" && value != "env" {
				return fmt.Errorf("unsupported secret type %q", value)
			}
			typ = value
		case "id":
			s.ID = value
		case "source", "src":
			s.FilePath = value
		case "env":
			s.Env = value
		default:
			return fmt.Errorf("unexpected key '%s' in '%s'", strings.ToLower(key), field)
		}
	}
	if typ == "env" && s.Env == "" {
		s.Env, s.FilePath = s.FilePath, ""
	}
	return nil
}

// String is the entry in --secret's CSV form.
func (s *Secret) String() string {
	var b csvBuilder
	b.add("id", s.ID)
	b.add("src", s.FilePath)
	b.add("env", s.Env)
	return b.String()
}

// Merge appends other and drops earlier duplicates by id.
func (s Secrets) Merge(other Secrets) Secrets {
	if other == nil {
		return s.Normalize()
	}
	return append(s, other...).Normalize()
}

// Normalize keeps one entry per id, where the first one was, with the last one's value.
func (s Secrets) Normalize() Secrets {
	return lastByID(s, func(e *Secret) string { return e.ID })
}

// lastByID keeps one entry per id, where the first one was, with the last one's value.
func lastByID[T any](s []T, id func(T) string) []T {
	if len(s) == 0 {
		return nil
	}
	var out []T
	at := map[string]int{}
	for _, e := range s {
		if i, ok := at[id(e)]; ok {
			out[i] = e
			continue
		}
		at[id(e)] = len(out)
		out = append(out, e)
	}
	return out
}

// SSH is one `ssh` entry: an agent id and its sockets or key files (none: $SSH_AUTH_SOCK).
type SSH struct {
	ID    string   `json:"id,omitempty"`
	Paths []string `json:"paths,omitempty"`
}

// SSHKeys are a target's ssh agents; a later entry with the same id replaces an earlier one.
type SSHKeys []*SSH

// UnmarshalText parses `default|ID[=PATH[,PATH…]]`.
func (s *SSH) UnmarshalText(text []byte) error {
	id, paths, ok := strings.Cut(string(text), "=")
	s.ID, s.Paths = id, nil
	if ok {
		s.Paths = strings.Split(paths, ",")
	}
	return nil
}

// String is the entry in --ssh's form.
func (s *SSH) String() string {
	if len(s.Paths) == 0 {
		return s.ID
	}
	var b csvBuilder
	b.add(s.ID, strings.Join(s.Paths, ","))
	return b.String()
}

func (s *SSH) compare(o *SSH) int {
	if c := strings.Compare(s.ID, o.ID); c != 0 {
		return c
	}
	return slices.Compare(s.Paths, o.Paths)
}

// Merge appends other and drops earlier duplicates by id.
func (s SSHKeys) Merge(other SSHKeys) SSHKeys {
	if other == nil {
		return s.Normalize()
	}
	return append(s, other...).Normalize()
}

// Normalize keeps one entry per id, where the first one was, with the last one's value.
func (s SSHKeys) Normalize() SSHKeys {
	return lastByID(s, func(e *SSH) string { return e.ID })
}

// Entry is a typed set of attributes: a cache-from/cache-to entry or an attest entry.
type Entry struct {
	Type  string
	Attrs map[string]string
	// Disabled is an attest entry's disabled=true.
	Disabled bool
}

// Entries are cache-from, cache-to or attest entries.
type Entries []*Entry

// MarshalJSON flattens the attributes beside "type", as buildx prints them.
func (e *Entry) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(e.Attrs)+2)
	for k, v := range e.Attrs {
		m[k] = v
	}
	m["type"] = e.Type
	if e.Disabled {
		m["disabled"] = true
	}
	return json.Marshal(m)
}

// parseEntry parses `type=T,key=value…`; a value without "=" is a registry ref.
func parseEntry(in string) (*Entry, error) {
	fields, err := csvvalue.Fields(in, nil)
	if err != nil {
		return nil, err
	}
	if len(fields) == 1 && !strings.Contains(fields[0], "=") {
		return &Entry{Type: "registry", Attrs: map[string]string{"ref": fields[0]}}, nil
	}
	e := &Entry{Attrs: map[string]string{}}
	for _, field := range fields {
		key, value, ok := strings.Cut(field, "=")
		if !ok {
			return nil, fmt.Errorf("invalid value %s", field)
		}
		switch key = strings.ToLower(key); key {
		case "type":
			e.Type = value
		case "disabled":
			if e.Disabled, err = strconv.ParseBool(value); err != nil {
				return nil, fmt.Errorf("invalid value %s", field)
			}
		default:
			e.Attrs[key] = value
		}
	}
	if e.Type == "" {
		return nil, fmt.Errorf("type required for %q", in)
	}
	return e, nil
}

// ParseEntries parses cache entries; a value without "=" may list several refs.
func ParseEntries(in []string) (Entries, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make(Entries, 0, len(in))
	for _, s := range in {
		if s == "" {
			continue
		}
		parts := []string{s}
		if !strings.Contains(s, "=") {
			var err error
			if parts, err = csvvalue.Fields(s, nil); err != nil {
				return nil, err
			}
		}
		for _, p := range parts {
			e, err := parseEntry(p)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
	}
	return out, nil
}

func (e *Entry) equal(o *Entry) bool {
	return e.Type == o.Type && e.Disabled == o.Disabled && maps.Equal(e.Attrs, o.Attrs)
}

// Merge appends other and drops duplicates.
func (e Entries) Merge(other Entries) Entries {
	if other == nil {
		return e.Normalize()
	}
	return append(e, other...).Normalize()
}

// Normalize drops duplicate entries (buildx's order: a duplicate's last copy is swapped out).
func (e Entries) Normalize() Entries {
	if len(e) == 0 {
		return nil
	}
	return removeDupes(e, (*Entry).equal)
}

// Export is one `output` entry.
type Export struct {
	Type        string
	Attrs       map[string]string
	Destination string
}

// Exports are a target's outputs.
type Exports []*Export

// MarshalJSON flattens the attributes beside "type" and "dest", as buildx prints them.
func (e *Export) MarshalJSON() ([]byte, error) {
	m := maps.Clone(e.Attrs)
	if m == nil {
		m = map[string]string{}
	}
	m["type"] = e.Type
	if e.Destination != "" {
		m["dest"] = e.Destination
	}
	return json.Marshal(m)
}

// UnmarshalText parses `type=T[,dest=D][,key=value…]`, or a bare path (type=local) or
// "-" (type=tar to stdout).
func (e *Export) UnmarshalText(text []byte) error {
	s := string(text)
	fields, err := csvvalue.Fields(s, nil)
	if err != nil {
		return err
	}
	*e = Export{Attrs: map[string]string{}}
	if len(fields) == 1 && fields[0] == s && !strings.HasPrefix(s, "type=") {
		e.Type, e.Destination = "local", s
		if s == "-" {
			e.Type = "tar"
		}
		return nil
	}
	for _, field := range fields {
		key, value, ok := strings.Cut(field, "=")
		if !ok {
			return fmt.Errorf("invalid value %s", field)
		}
		switch key = strings.TrimSpace(strings.ToLower(key)); key {
		case "type":
			e.Type = value
		case "dest":
			e.Destination = value
		default:
			e.Attrs[key] = value
		}
	}
	if e.Type == "" {
		return fmt.Errorf("type is required for output")
	}
	return nil
}

// String is the entry in --output's CSV form.
func (e *Export) String() string {
	var b csvBuilder
	b.add("type", e.Type)
	b.add("dest", e.Destination)
	keys := slices.Sorted(maps.Keys(e.Attrs))
	for _, k := range keys {
		b.add(k, e.Attrs[k])
	}
	return b.String()
}

func (e *Export) equal(o *Export) bool {
	return e.Type == o.Type && e.Destination == o.Destination && maps.Equal(e.Attrs, o.Attrs)
}

// Merge appends other and drops duplicates.
func (e Exports) Merge(other Exports) Exports {
	if other == nil {
		return e.Normalize()
	}
	return append(e, other...).Normalize()
}

// Normalize drops duplicate entries.
func (e Exports) Normalize() Exports {
	if len(e) == 0 {
		return nil
	}
	return removeDupes(e, (*Export).equal)
}

// removeDupes drops duplicates the way buildx does: walking back from the end, a duplicate
// of an element is swapped with the last element and cut off (so the order may change).
func removeDupes[E any](s []E, equal func(E, E) bool) []E {
	for i := len(s) - 2; i >= 0; i-- {
		for j := i + 1; j < len(s); j++ {
			if equal(s[i], s[j]) {
				s[j], s[len(s)-1] = s[len(s)-1], s[j]
				s = s[:len(s)-1]
				break
			}
		}
	}
	return s
}

// csvBuilder writes key=value pairs as one CSV record, quoting a pair that needs it.
type csvBuilder struct{ sb strings.Builder }

func (w *csvBuilder) add(key, value string) {
	if value == "" {
		return
	}
	if w.sb.Len() > 0 {
		w.sb.WriteByte(',')
	}
	pair := key + "=" + value
	if strings.ContainsAny(pair, ",\"") {
		var q strings.Builder
		cw := csv.NewWriter(&q)
		_ = cw.Write([]string{pair})
		cw.Flush()
		pair = strings.TrimSpace(q.String())
	}
	w.sb.WriteString(pair)
}

func (w *csvBuilder) String() string { return w.sb.String() }
