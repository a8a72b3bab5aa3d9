package plan

import "strings"

// Env is an ordered KEY=value list where a later Set replaces an earlier value in place,
// like the environment of a BuildKit LLB state. It implements shell.EnvGetter.
type Env struct {
	keys []string
	vals map[string]string
	size int // bytes of the KEY=value strings
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
	if old, ok := e.vals[key]; ok {
		e.size -= len(old)
	} else {
		e.keys = append(e.keys, key)
		e.size += len(key) + 1
	}
	e.size += len(value)
	e.vals[key] = value
}

// Bytes is the size of the KEY=value strings List returns, added up.
func (e *Env) Bytes() int { return e.size }

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
	c := &Env{keys: append([]string(nil), e.keys...), vals: make(map[string]string, len(e.vals)), size: e.size}
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
