package cli

import (
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
)

// output is one parsed --output value.
type output struct {
	Type string // oci, docker, local, image
	Dest string
	Tar  bool // oci: write a tar archive instead of a layout dir
	Name string
	Push bool
}

// parseOutput reads buildx's --output grammar: CSV key=value pairs, or a bare path
// meaning type=local,dest=PATH.
func parseOutput(s string) (output, error) {
	if !strings.Contains(s, "=") {
		return output{Type: "local", Dest: s}, nil
	}
	fields, err := csv.NewReader(strings.NewReader(s)).Read()
	if err != nil {
		return output{}, fmt.Errorf("--output %q: %w", s, err)
	}
	var o output
	tarSet := false
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return o, fmt.Errorf("--output %q: invalid value %q: want key=value", s, f)
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "type":
			o.Type = v
		case "dest":
			o.Dest = v
		case "name":
			o.Name = v
		case "push":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return o, fmt.Errorf("--output %q: push=%s: want true or false", s, v)
			}
			o.Push = b
		case "tar":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return o, fmt.Errorf("--output %q: tar=%s: want true or false", s, v)
			}
			o.Tar, tarSet = b, true
		default:
			return o, fmt.Errorf("--output %q: unsupported key %q (supported: type, dest, name, tar, push)", s, k)
		}
	}
	switch o.Type {
	case "oci":
		if !tarSet {
			// buildx writes a tar by default; hush keeps the contract that
			// dest=DIR is a layout dir, and writes a tar when dest ends in .tar.
			o.Tar = strings.HasSuffix(o.Dest, ".tar")
		}
	case "docker", "local":
	case "image":
		return o, nil
	case "registry":
		if o.Name == "" {
			return o, fmt.Errorf("--output %q: type=registry needs name=REF", s)
		}
		o.Type, o.Push = "image", true
		return o, nil
	case "":
		return o, fmt.Errorf("--output %q: type is required (oci, docker, local, image)", s)
	default:
		return o, fmt.Errorf("--output %q: unsupported type %q (supported: oci, docker, local, image, registry)", s, o.Type)
	}
	if o.Dest == "" {
		return o, fmt.Errorf("--output %q: dest is required for type=%s", s, o.Type)
	}
	return o, nil
}
