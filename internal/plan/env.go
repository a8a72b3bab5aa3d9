package plan

import "strings"

// Env is an ordered KEY=value list where a later Set replaces an earlier value in place,
// like the environment of a BuildKit LLB state. It implements shell.EnvGetter.
type Env struct {
	keys []string
	vals map[string]string
}

// NewEnv builds an Env from KEY=value strings (later duplicates win).
func NewEnv(kvs []string) *Env {
	e := &Env{vals: map[string]string{}}
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		e.Set(k, v)
	}
	return e
}

// Set sets key to value, keeping the key's first position.
func (e *Env) Set(key, value string) {
	if e.vals == nil {
		e.vals = map[string]string{}
	}
	if _, ok := e.vals[key]; !ok {
		e.keys = append(e.keys, key)
	}
	e.vals[key] = value
}

// Get implements shell.EnvGetter.
func (e *Env) Get(key string) (string, bool) {
	v, ok := e.vals[key]
	return v, ok
}

// Keys implements shell.EnvGetter.
func (e *Env) Keys() []string { return append([]string(nil), e.keys...) }

// List returns the KEY=value strings in order.
func (e *Env) List() []string {
	out := make([]string, 0, len(e.keys))
	for _, k := range e.keys {
		out = append(out, k+"="+e.vals[k])
	}
	return out
}

// Clone returns an independent copy.
func (e *Env) Clone() *Env {
	c := &Env{keys: append([]string(nil), e.keys...), vals: make(map[string]string, len(e.vals))}
	for k, v := range e.vals {
		c.vals[k] = v
	}
	return c
}

// setEnvList replaces or appends KEY=value in a config Env list.
func setEnvList(list []string, key, value string) []string {
	for i, kv := range list {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			out := append([]string(nil), list...)
			out[i] = key + "=" + value
			return out
		}
	}
	return append(append([]string(nil), list...), key+"="+value)
}
