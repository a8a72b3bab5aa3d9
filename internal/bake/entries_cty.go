package bake

import (
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"
)

// The entry lists convert from and to cty values, so that an HCL or JSON file may write an
// entry as a CSV string or as an object, and one target may read another's
// (target.base.secret). Empty and unknown elements are skipped, as buildx does.

var (
	secretType = cty.ObjectWithOptionalAttrs(map[string]cty.Type{"id": cty.String, "src": cty.String, "env": cty.String},
		[]string{"id", "src", "env"})
	sshType = cty.ObjectWithOptionalAttrs(map[string]cty.Type{"id": cty.String, "paths": cty.List(cty.String)},
		[]string{"id", "paths"})
	attrsType = cty.Map(cty.String)
)

// eachElement calls f for each element of a list or tuple that is known and not "".
func eachElement(in cty.Value, p cty.Path, want cty.Type, f func(cty.Value) error) error {
	if t := in.Type(); !t.IsTupleType() && !t.IsListType() {
		return p.NewErrorf("%s", convert.MismatchMessage(t, cty.List(want)))
	}
	for it := in.ElementIterator(); it.Next(); {
		_, v := it.Element()
		if !v.IsKnown() || v.IsNull() || (v.Type() == cty.String && v.AsString() == "") {
			continue
		}
		if err := f(v); err != nil {
			return err
		}
	}
	return nil
}

func stringAttr(v cty.Value, name string) string {
	a := v.GetAttr(name)
	if a.IsNull() || !a.IsKnown() {
		return ""
	}
	return a.AsString()
}

// FromCtyValue reads a list of CSV strings or {id, src, env} objects.
func (s *Secrets) FromCtyValue(in cty.Value, p cty.Path) error {
	*s = Secrets{}
	return eachElement(in, p, secretType, func(v cty.Value) error {
		e := &Secret{}
		if v.Type() == cty.String {
			if err := e.UnmarshalText([]byte(v.AsString())); err != nil {
				return p.NewError(err)
			}
		} else {
			conv, err := convert.Convert(v, secretType)
			if err != nil {
				return err
			}
			e.ID, e.FilePath, e.Env = stringAttr(conv, "id"), stringAttr(conv, "src"), stringAttr(conv, "env")
		}
		*s = append(*s, e)
		return nil
	})
}

// ToCtyValue is the list as {id, src, env} objects.
func (s Secrets) ToCtyValue() cty.Value {
	if len(s) == 0 {
		return cty.ListValEmpty(secretType)
	}
	vals := make([]cty.Value, len(s))
	for i, e := range s {
		vals[i] = cty.ObjectVal(map[string]cty.Value{"id": cty.StringVal(e.ID), "src": cty.StringVal(e.FilePath), "env": cty.StringVal(e.Env)})
	}
	return cty.ListVal(vals)
}

// FromCtyValue reads a list of `ID[=PATHS]` strings or {id, paths} objects.
func (s *SSHKeys) FromCtyValue(in cty.Value, p cty.Path) error {
	*s = SSHKeys{}
	return eachElement(in, p, sshType, func(v cty.Value) error {
		e := &SSH{}
		if v.Type() == cty.String {
			_ = e.UnmarshalText([]byte(v.AsString()))
		} else {
			conv, err := convert.Convert(v, sshType)
			if err != nil {
				return err
			}
			e.ID = stringAttr(conv, "id")
			if paths := conv.GetAttr("paths"); !paths.IsNull() && paths.IsKnown() {
				if err := gocty.FromCtyValue(paths, &e.Paths); err != nil {
					return err
				}
			}
		}
		*s = append(*s, e)
		return nil
	})
}

// ToCtyValue is the list as {id, paths} objects.
func (s SSHKeys) ToCtyValue() cty.Value {
	if len(s) == 0 {
		return cty.ListValEmpty(sshType)
	}
	vals := make([]cty.Value, len(s))
	for i, e := range s {
		paths := cty.ListValEmpty(cty.String)
		if len(e.Paths) > 0 {
			ps := make([]cty.Value, len(e.Paths))
			for j, p := range e.Paths {
				ps[j] = cty.StringVal(p)
			}
			paths = cty.ListVal(ps)
		}
		vals[i] = cty.ObjectVal(map[string]cty.Value{"id": cty.StringVal(e.ID), "paths": paths})
	}
	return cty.ListVal(vals)
}

// attrMap reads a map of strings.
func attrMap(v cty.Value) (map[string]string, error) {
	conv, err := convert.Convert(v, attrsType)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, e := range conv.AsValueMap() {
		if e.IsKnown() && !e.IsNull() {
			out[k] = e.AsString()
		}
	}
	return out, nil
}

// pop removes key from m and returns its value.
func pop(m map[string]string, key string) string {
	v := m[key]
	delete(m, key)
	return v
}

// FromCtyValue reads a list of CSV strings (a bare ref is a registry entry) or maps.
func (e *Entries) FromCtyValue(in cty.Value, p cty.Path) error {
	*e = Entries{}
	return eachElement(in, p, attrsType, func(v cty.Value) error {
		if v.Type() == cty.String {
			entries, err := ParseEntries([]string{v.AsString()})
			if err != nil {
				return p.NewError(err)
			}
			*e = append(*e, entries...)
			return nil
		}
		attrs, err := attrMap(v)
		if err != nil {
			return err
		}
		ent := &Entry{Type: pop(attrs, "type"), Attrs: attrs}
		if ent.Type == "" {
			return p.NewErrorf("type required for cache entry")
		}
		*e = append(*e, ent)
		return nil
	})
}

// ToCtyValue is the list as maps.
func (e Entries) ToCtyValue() cty.Value {
	if len(e) == 0 {
		return cty.ListValEmpty(attrsType)
	}
	vals := make([]cty.Value, len(e))
	for i, ent := range e {
		m := map[string]cty.Value{"type": cty.StringVal(ent.Type)}
		for k, v := range ent.Attrs {
			m[k] = cty.StringVal(v)
		}
		vals[i] = cty.MapVal(m)
	}
	return cty.ListVal(vals)
}

// FromCtyValue reads a list of CSV strings or maps.
func (e *Exports) FromCtyValue(in cty.Value, p cty.Path) error {
	*e = Exports{}
	return eachElement(in, p, attrsType, func(v cty.Value) error {
		ex := &Export{}
		if v.Type() == cty.String {
			if err := ex.UnmarshalText([]byte(v.AsString())); err != nil {
				return p.NewError(err)
			}
			*e = append(*e, ex)
			return nil
		}
		attrs, err := attrMap(v)
		if err != nil {
			return err
		}
		ex.Type, ex.Destination, ex.Attrs = pop(attrs, "type"), pop(attrs, "dest"), attrs
		if ex.Type == "" {
			return p.NewErrorf("type is required for output")
		}
		*e = append(*e, ex)
		return nil
	})
}

// ToCtyValue is the list as maps.
func (e Exports) ToCtyValue() cty.Value {
	if len(e) == 0 {
		return cty.ListValEmpty(attrsType)
	}
	vals := make([]cty.Value, len(e))
	for i, ex := range e {
		m := map[string]cty.Value{"type": cty.StringVal(ex.Type), "dest": cty.StringVal(ex.Destination)}
		for k, v := range ex.Attrs {
			m[k] = cty.StringVal(v)
		}
		vals[i] = cty.MapVal(m)
	}
	return cty.ListVal(vals)
}
