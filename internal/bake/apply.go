package bake

import (
	"fmt"
	"strings"
)

// AddOverrides applies a target's --set overrides.
func (t *Target) AddOverrides(overrides map[string]Override) error {
	secretOverrides := map[string]Override{}
	for key, o := range overrides {
		value := o.Value
		k, sub, hasSub := strings.Cut(key, ".")
		var err error
		switch k {
		case "context":
			t.Context = &value
		case "dockerfile":
			t.Dockerfile = &value
		case "target":
			t.Target = &value
		case "call":
			t.Call = &value
		case "network":
			t.NetworkMode = &value
		case "shm-size":
			t.ShmSize = &value
		case "arg", "contexts", "label", "extra-host":
			if !hasSub {
				return fmt.Errorf("invalid format for %s, expecting %s.<name>=<value>", k, k)
			}
			t.setNamed(k, sub, value)
		case "secret":
			if hasSub {
				secretOverrides[sub] = o
				continue
			}
			var s Secrets
			if s, err = parseList[Secret](o.ArrValue); err == nil {
				t.Secrets = appendOr(o.Append, t.Secrets.Merge, s)
			}
		case "no-cache":
			t.NoCache, err = parseBool(k, value)
		case "pull":
			t.Pull, err = parseBool(k, value)
		case "push", "load":
			var b *bool
			if b, err = parseBool(k, value); err == nil && k == "push" {
				t.Outputs = setPushOverride(t.Outputs, *b)
			} else if err == nil {
				t.Outputs = setLoadOverride(t.Outputs, *b)
			}
		default:
			err = t.addListOverride(k, o)
		}
		if err != nil {
			return err
		}
	}
	for id, o := range secretOverrides {
		if err := t.updateSecret(id, o.Value); err != nil {
			return err
		}
	}
	return nil
}

// appendOr merges (KEY+=) or replaces.
func appendOr[S any](appendTo bool, merge func(S) S, v S) S {
	if appendTo {
		return merge(v)
	}
	return v
}

// setNamed sets one entry of a map attribute.
func (t *Target) setNamed(k, name, value string) {
	switch k {
	case "contexts":
		if t.Contexts == nil {
			t.Contexts = map[string]string{}
		}
		t.Contexts[name] = value
		return
	case "arg":
		t.Args = setEntry(t.Args, name, value)
	case "label":
		t.Labels = setEntry(t.Labels, name, value)
	case "extra-host":
		t.ExtraHosts = setEntry(t.ExtraHosts, name, value)
	}
}

func setEntry(m map[string]*string, k, v string) map[string]*string {
	if m == nil {
		m = map[string]*string{}
	}
	m[k] = &v
	return m
}

// addListOverride applies a list key.
func (t *Target) addListOverride(k string, o Override) error {
	strs := func(cur []string) []string {
		if o.Append {
			return append(cur, o.ArrValue...)
		}
		return o.ArrValue
	}
	switch k {
	case "tag":
		t.Tags = strs(t.Tags)
	case "platform":
		t.Platforms = strs(t.Platforms)
	case "no-cache-filter":
		t.NoCacheFilter = strs(t.NoCacheFilter)
	case "ulimit":
		t.Ulimits = strs(t.Ulimits)
	case "annotation", "entitlement":
		dst := &t.Annotations
		if k == "entitlement" {
			dst = &t.Entitlements
		}
		if o.Clear {
			*dst = nil
		}
		*dst = append(*dst, o.ArrValue...)
	case "cache-from", "cache-to", "attest":
		return t.addEntriesOverride(k, o)
	case "ssh":
		ssh, _ := parseList[SSH](o.ArrValue)
		t.SSH = appendOr(o.Append, t.SSH.Merge, SSHKeys(ssh))
	case "output":
		outs, err := parseList[Export](o.ArrValue)
		if err != nil {
			return fmt.Errorf("invalid value for outputs: %w", err)
		}
		t.Outputs = appendOr(o.Append, t.Outputs.Merge, Exports(outs))
	case "policy", "resource":
		return fmt.Errorf("--set %s: hush cannot honour %s yet", k, k)
	default:
		return fmt.Errorf("unknown key: %s", k)
	}
	return nil
}

// addEntriesOverride applies cache-from, cache-to or attest.
func (t *Target) addEntriesOverride(k string, o Override) error {
	e, err := ParseEntries(o.ArrValue)
	if err != nil {
		return err
	}
	switch k {
	case "cache-from":
		t.CacheFrom = appendOr(o.Append, t.CacheFrom.Merge, e)
	case "cache-to":
		t.CacheTo = appendOr(o.Append, t.CacheTo.Merge, e)
	case "attest":
		if o.Clear {
			t.Attest = nil
		}
		t.Attest = t.Attest.Merge(e)
	}
	return nil
}

// updateSecret replaces where a declared secret's value comes from (--set T.secret.ID=…).
func (t *Target) updateSecret(id, value string) error {
	if id == "" {
		return fmt.Errorf("invalid format for secret, expecting secret.<id>=<value>")
	}
	for _, s := range t.Secrets {
		if s.ID != id {
			continue
		}
		var next Secret
		if err := next.UnmarshalText([]byte(value)); err != nil {
			return err
		}
		if next.ID != "" && next.ID != id {
			return fmt.Errorf("secret override id %q does not match declared secret %q", next.ID, id)
		}
		s.Env, s.FilePath = next.Env, next.FilePath
		return nil
	}
	return fmt.Errorf("secret %q must be declared before it can be overridden", id)
}

// setPushOverride applies push=BOOL to the outputs as buildx does.
func setPushOverride(outputs Exports, push bool) Exports {
	if !push {
		for i := 0; i < len(outputs); {
			switch outputs[i].Type {
			case "registry":
				outputs[i], outputs[len(outputs)-1] = outputs[len(outputs)-1], outputs[i]
				outputs = outputs[:len(outputs)-1]
				continue
			case "image":
				outputs[i].Attrs["push"] = "false"
			}
			i++
		}
		return outputs
	}
	add := true
	for _, o := range outputs {
		if o.Type != "docker" {
			add = false
		}
		if o.Type == "image" {
			o.Attrs["push"] = "true"
		}
	}
	if add {
		outputs = append(outputs, &Export{Type: "image", Attrs: map[string]string{"push": "true"}})
	}
	return outputs
}

// setLoadOverride applies load=true: a docker output unless one is there (or an output
// that is not an image).
func setLoadOverride(outputs Exports, load bool) Exports {
	if !load {
		return outputs
	}
	for _, o := range outputs {
		switch o.Type {
		case "docker":
			if o.Destination == "" {
				return outputs
			}
		case "image", "registry", "oci":
		default:
			return outputs
		}
	}
	return append(outputs, &Export{Type: "docker"})
}
