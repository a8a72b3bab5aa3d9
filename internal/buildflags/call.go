package buildflags

import (
	"fmt"
	"strconv"
	"strings"

	csvvalue "github.com/tonistiigi/go-csvvalue"
)

// Call is a --call value: a method (check, outline, targets; "" for a build) and its
// format (text or json); IgnoreStatus keeps check's exit code 0 with warnings.
type Call struct {
	Name, Format string
	IgnoreStatus bool
}

// ParseCall reads --call as buildx does: METHOD[,format=json][,ignorestatus=true];
// "lint" is check's other name, "build" means no call.
func ParseCall(s string) (Call, error) {
	var c Call
	if s == "" {
		return c, nil
	}
	fields, err := csvvalue.Fields(s, nil)
	if err != nil {
		return c, fmt.Errorf("--call %q: %w", s, err)
	}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		switch {
		case !ok && c.Name != "":
			return c, fmt.Errorf("--call %q: invalid print value: %s", s, s)
		case !ok:
			c.Name = f
		case k == "format":
			if v != "json" && v != "text" && v != "" {
				return c, fmt.Errorf("--call %q: format=%s: want json or text", s, v)
			}
			c.Format = v
		case k == "ignorestatus":
			if c.IgnoreStatus, err = strconv.ParseBool(v); err != nil {
				return c, fmt.Errorf("--call %q: invalid ignorestatus print value: %s", s, v)
			}
		default:
			return c, fmt.Errorf("--call %q: invalid print field: %s", s, f)
		}
	}
	switch c.Name {
	case "lint":
		c.Name = "check"
	case "build":
		c.Name = ""
	case "check", "outline", "targets":
	default:
		return c, fmt.Errorf("--call %q: unknown method %q (want build, check, outline or targets)", s, c.Name)
	}
	return c, nil
}
