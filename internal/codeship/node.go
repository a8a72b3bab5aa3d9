package codeship

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// source is one parsed file: its name (as shown in messages) and its warnings.
type source struct {
	name     string
	warnings *[]Warning
}

// Warning is something in a file hush accepts but does not act on as written.
type Warning struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Msg  string `json:"message"`
}

func (w Warning) String() string { return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Msg) }

// Error is a problem in a file that stops the pipeline, at file:line.
type Error struct {
	File string
	Line int
	Msg  string
	// empty marks an image_tag that rendered to nothing: a plan shows it, a push fails.
	empty bool
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

func (s source) errf(n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &Error{File: s.name, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func (s source) warnf(n *yaml.Node, format string, args ...any) {
	*s.warnings = append(*s.warnings, Warning{File: s.name, Line: n.Line, Msg: fmt.Sprintf(format, args...)})
}

// yamlLine finds the line number in a yaml.v3 error message.
var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// parseFile reads path and returns its document's root node (nil for an empty file).
func (s source) parseFile(path string) (*yaml.Node, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.name, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, &Error{File: s.name, Msg: strings.Join(te.Errors, "; ")}
		}
		m := yamlLine.FindStringSubmatch(err.Error())
		if m == nil {
			return nil, &Error{File: s.name, Msg: err.Error()}
		}
		line, _ := strconv.Atoi(m[1])
		return nil, &Error{File: s.name, Line: line, Msg: "malformed YAML: " + m[2]}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return deref(doc.Content[0]), nil
}

// deref follows an alias to its anchored node.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// entry is one key of a mapping, after merge keys were applied.
type entry struct {
	key   *yaml.Node
	value *yaml.Node
}

// entries lists a mapping's keys in order, with `<<:` merge keys expanded as YAML 1.1
// says: a key written in the mapping wins over a merged one, and among merged mappings
// the earlier one wins.
func (s source) entries(n *yaml.Node) ([]entry, error) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return nil, s.errf(n, "want a mapping, got %s", kindName(n))
	}
	var own, merged []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		if k.Tag != "!!merge" {
			own = append(own, entry{k, v})
			continue
		}
		var sources []*yaml.Node
		if v.Kind == yaml.SequenceNode {
			for _, c := range v.Content {
				sources = append(sources, deref(c))
			}
		} else {
			sources = []*yaml.Node{v}
		}
		for _, src := range sources {
			es, err := s.entries(src)
			if err != nil {
				return nil, s.errf(k, "merge key <<: %v", err)
			}
			merged = append(merged, es...)
		}
	}
	seen := map[string]bool{}
	var out []entry
	for _, e := range append(own, merged...) {
		if !seen[e.key.Value] {
			seen[e.key.Value] = true
			out = append(out, e)
		}
	}
	return out, nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// str reads a scalar as the text it was written as: an unquoted number such as
// `image_tag: 18.04` stays "18.04".
func (s source) str(n *yaml.Node, what string) (string, error) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode {
		return "", s.errf(n, "%s: want a string, got %s", what, kindName(n))
	}
	if n.Tag == "!!null" {
		return "", nil
	}
	return n.Value, nil
}

// boolean reads a YAML boolean (true/false, and the strings "true"/"false").
func (s source) boolean(n *yaml.Node, what string) (bool, error) {
	v, err := s.str(n, what)
	if err != nil {
		return false, err
	}
	switch strings.ToLower(v) {
	case "true", "yes", "on":
		return true, nil
	case "false", "no", "off", "":
		return false, nil
	}
	return false, s.errf(n, "%s: want true or false, got %q", what, v)
}

// strs reads one string or a list of strings.
func (s source) strs(n *yaml.Node, what string) ([]string, error) {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		v, err := s.str(n, what)
		if err != nil || v == "" {
			return nil, err
		}
		return []string{v}, nil
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		v, err := s.str(c, what)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Var is one KEY=value of an environment or build args.
type Var struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	// Unset is a bare KEY (a list item without =, a null value): compose takes the value
	// from the environment of the command, hush leaves it out.
	Unset bool `json:"unset,omitempty"`
}

// vars reads a mapping (KEY: value) or a list (KEY=value) of variables, in order.
func (s source) vars(n *yaml.Node, what string) ([]Var, error) {
	n = deref(n)
	var out []Var
	switch n.Kind {
	case yaml.MappingNode:
		es, err := s.entries(n)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			v, err := s.str(e.value, what+"."+e.key.Value)
			if err != nil {
				return nil, err
			}
			out = append(out, Var{Key: e.key.Value, Value: v, Unset: deref(e.value).Tag == "!!null"})
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			item, err := s.str(c, what)
			if err != nil {
				return nil, err
			}
			k, v, ok := strings.Cut(item, "=")
			out = append(out, Var{Key: k, Value: v, Unset: !ok})
		}
	default:
		if n.Tag == "!!null" {
			return nil, nil
		}
		return nil, s.errf(n, "%s: want a mapping or a list of KEY=value, got %s", what, kindName(n))
	}
	for _, v := range out {
		if v.Key == "" {
			return nil, s.errf(n, "%s: a variable without a name", what)
		}
	}
	return out, nil
}
