package secret

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tonistiigi/go-csvvalue"
)

// Spec is one --secret flag, in buildx's grammar plus hush's rebuild-on-change key.
type Spec struct {
	ID string
	// Src is a file to read; Env an environment variable to read. Both empty means
	// auto-detect: the variable named ID if set, else the file named ID.
	Src string
	Env string
	// RebuildOnChange makes steps that mount this secret re-run when its content
	// changes, through a keyed fingerprint (see docs/spec/cache-key.md).
	RebuildOnChange bool
}

// ParseSpec parses `id=ID[,src=PATH|,env=VAR][,type=file|env][,rebuild-on-change[=bool]]`.
// Fields are CSV, so quoted values may hold commas.
func ParseSpec(value string) (Spec, error) {
	fields, err := csvvalue.Fields(value, nil)
	if err != nil {
		return Spec{}, fmt.Errorf("failed to parse csv secret: %w", err)
	}
	var s Spec
	var typ string
	for _, field := range fields {
		key, val, ok := strings.Cut(field, "=")
		key = strings.ToLower(key)
		if key == "rebuild-on-change" && !ok {
			s.RebuildOnChange = true
			continue
		}
		if !ok {
			return Spec{}, fmt.Errorf("invalid field '%s' must be a key=value pair", field)
		}
		switch key {
		case "type":
			if val != "file" && val != "env" {
				return Spec{}, fmt.Errorf("unsupported secret type %q", val)
			}
			typ = val
		case "id":
			s.ID = val
		case "source", "src":
			s.Src = val
		case "env":
			s.Env = val
		case "rebuild-on-change":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return Spec{}, fmt.Errorf("invalid value for rebuild-on-change: %q", val)
			}
			s.RebuildOnChange = b
		default:
			return Spec{}, fmt.Errorf("unexpected key '%s' in '%s'", key, field)
		}
	}
	if typ == "env" && s.Env == "" {
		s.Env, s.Src = s.Src, ""
	}
	if s.ID == "" {
		return Spec{}, errors.New("secret missing ID")
	}
	return s, nil
}
