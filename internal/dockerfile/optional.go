package dockerfile

import (
	"path"
	"strconv"
	"strings"

	"github.com/tonistiigi/go-csvvalue"
)

// OptionalSecrets lists the secret ids whose every RUN --mount=type=secret in f says
// required=false in so many words. BuildKit's parse cannot tell that from a mount that
// does not say (both are optional there), so it is read from the flags as written. An id
// written with a variable ($ID) is not matched.
func (f *File) OptionalSecrets() map[string]bool {
	optional := map[string]bool{}
	required := map[string]bool{}
	for _, st := range f.Stages {
		for _, c := range st.Commands {
			n, ok := f.nodes[c]
			if !ok || !strings.EqualFold(c.Name(), "run") {
				continue
			}
			for _, flag := range n.Flags {
				v, ok := strings.CutPrefix(flag, "--mount=")
				if !ok {
					continue
				}
				if id, explicit, isSecret := secretMount(v); isSecret && explicit {
					optional[id] = true
				} else if isSecret {
					required[id] = true
				}
			}
		}
	}
	for id := range required {
		delete(optional, id)
	}
	return optional
}

// secretMount reads a --mount value: for a secret mount its id and whether it says
// required=false.
func secretMount(v string) (id string, explicitOptional, isSecret bool) {
	fields, err := csvvalue.Fields(v, nil)
	if err != nil {
		return "", false, false
	}
	var src, target string
	for _, field := range fields {
		key, val, hasVal := strings.Cut(field, "=")
		switch strings.ToLower(key) {
		case "type":
			isSecret = val == "secret"
		case "id":
			id = val
		case "source", "src":
			src = val
		case "target", "dst", "destination":
			target = val
		case "required":
			b, err := strconv.ParseBool(val)
			explicitOptional = hasVal && err == nil && !b
		}
	}
	switch {
	case id != "":
	case src != "":
		id = src
	case target != "":
		id = path.Base(target)
	}
	return id, explicitOptional, isSecret
}
