package sshagent

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// DefaultID is the id used when a --ssh value or a mount names none.
const DefaultID = "default"

// Spec is one parsed --ssh value: an agent id and the socket or key files
// that back it. No paths means "the agent in $SSH_AUTH_SOCK".
type Spec struct {
	ID    string
	Paths []string
}

// String renders the spec back in the flag grammar.
func (s Spec) String() string {
	if len(s.Paths) == 0 {
		return s.ID
	}
	return s.ID + "=" + strings.Join(s.Paths, ",")
}

// ParseSpec parses one --ssh value in buildx's grammar:
// default|ID[=SOCKET|KEY[,KEY...]]. An empty id before "=" means
// [DefaultID]; "ID=" with nothing after it means no paths.
func ParseSpec(s string) (Spec, error) {
	if strings.TrimSpace(s) == "" {
		return Spec{}, errors.New("parsing --ssh value: empty value, want default|ID[=SOCKET|KEY[,KEY...]]")
	}
	id, value, hasValue := strings.Cut(s, "=")
	if id == "" {
		id = DefaultID
	}
	if err := validateID(id); err != nil {
		return Spec{}, fmt.Errorf("parsing --ssh value %q: %w", s, err)
	}
	spec := Spec{ID: id}
	if !hasValue || value == "" {
		return spec, nil
	}
	for _, p := range strings.Split(value, ",") {
		if p == "" {
			return Spec{}, fmt.Errorf("parsing --ssh value %q: empty path in list", s)
		}
		spec.Paths = append(spec.Paths, p)
	}
	return spec, nil
}

// ParseSpecs parses repeated --ssh values. When an id is given more than once
// the last one wins; the result keeps the order in which ids first appeared.
func ParseSpecs(values []string) ([]Spec, error) {
	var specs []Spec
	index := map[string]int{}
	for _, v := range values {
		spec, err := ParseSpec(v)
		if err != nil {
			return nil, err
		}
		if i, ok := index[spec.ID]; ok {
			specs[i] = spec
			continue
		}
		index[spec.ID] = len(specs)
		specs = append(specs, spec)
	}
	return specs, nil
}

func validateID(id string) error {
	for _, r := range id {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == ',' {
			return fmt.Errorf("invalid agent id %q: no spaces, control characters or commas", id)
		}
	}
	return nil
}
