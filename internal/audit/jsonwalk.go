package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
)

// scanJSON searches every string (values and object keys) of a JSON document, reporting
// each hit with the string's JSON path. History entries get KindHistory, annotations
// their key. If the document is not JSON, its raw bytes are searched instead.
func (m *matcher) scanJSON(raw []byte, base Location) ([]Finding, error) {
	var doc any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		var out []Finding
		for _, h := range m.scanBytes(raw) {
			loc := base
			loc.Offset = h.start
			out = append(out, m.finding(h, loc))
		}
		return out, nil
	}
	var out []Finding
	walkJSON(doc, nil, func(path []any, s string) {
		hits := m.scanBytes([]byte(s))
		if len(hits) == 0 {
			return
		}
		loc := base
		if base.Kind == KindConfig && len(path) >= 2 && path[0] == "history" {
			if i, ok := path[1].(int); ok {
				loc.Kind = KindHistory
				loc.History = &i
				path = path[2:]
			}
		}
		loc.Field = formatPath(path)
		ap := path
		if n := len(ap); n > 0 && ap[n-1] == (keyMark{}) {
			ap = ap[:n-1]
		}
		if n := len(ap); n >= 2 && ap[n-2] == "annotations" {
			if k, ok := ap[n-1].(string); ok {
				loc.Key = k
			}
		}
		for _, h := range hits {
			l := loc
			l.Offset = h.start
			out = append(out, m.finding(h, l))
		}
	})
	return out, nil
}

// keyMark is the last path element of a hit in an object key rather than its value.
type keyMark struct{}

// walkJSON calls fn with every string of v and its path (string keys, int indexes).
func walkJSON(v any, path []any, fn func([]any, string)) {
	switch t := v.(type) {
	case string:
		fn(path, t)
	case json.Number:
		fn(path, t.String())
	case []any:
		for i, e := range t {
			walkJSON(e, append(path[:len(path):len(path)], i), fn)
		}
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := append(path[:len(path):len(path)], k)
			fn(append(p, keyMark{}), k)
			walkJSON(t[k], p, fn)
		}
	}
}

// formatPath renders a path as `config.Env[2]`, `annotations["org.example.key"]`, or
// `config.Labels["k"]{key}` for a hit in the key itself.
func formatPath(path []any) string {
	var b bytes.Buffer
	for _, p := range path {
		switch t := p.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", t)
		case keyMark:
			b.WriteString("{key}")
		case string:
			if isIdent(t) {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(t)
			} else {
				b.WriteString("[" + strconv.Quote(t) + "]")
			}
		}
	}
	return b.String()
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
