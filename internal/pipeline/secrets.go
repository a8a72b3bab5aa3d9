package pipeline

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/hush-build/hush/internal/codeship"
	"github.com/hush-build/hush/internal/jet"
	"github.com/hush-build/hush/internal/secret"
	"github.com/hush-build/hush/internal/secretfile"
)

// vault holds every value a pipeline decrypted: one set that masks all output and that
// every build's audit searches for, and the decrypted env files by path. Values live
// only in memory; Wipe ends them.
type vault struct {
	set     *secret.Set
	keyPath string
	mu      sync.Mutex
	key     *jet.Key
	envs    map[string][]secret.EnvVar // decrypted env and args files, by path
}

func newVault(keyPath string) *vault {
	return &vault{set: secret.NewSet(), keyPath: keyPath, envs: map[string][]secret.EnvVar{}}
}

// Wipe zeroes every value.
func (v *vault) Wipe() {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, vars := range v.envs {
		for _, e := range vars {
			clear(e.Value)
		}
	}
	v.envs = map[string][]secret.EnvVar{}
	if v.key != nil {
		v.key.Wipe()
	}
	v.set.Wipe()
}

// jetKey reads the project's AES key once.
func (v *vault) jetKey(file string) (*jet.Key, error) {
	if v.key != nil {
		return v.key, nil
	}
	data, err := os.ReadFile(v.keyPath)
	if err != nil {
		return nil, fmt.Errorf("%s is Jet-encrypted: reading the project's AES key: %w (give it with --key-path, or move the file to age with hush secret import-jet)", file, err)
	}
	key, err := jet.ParseKey(data)
	clear(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", v.keyPath, err)
	}
	v.key = key
	return key, nil
}

// decrypt returns the plaintext of an encrypted file: age (by its header) with the
// user's identities, else Jet v1/v2 with the project key.
func (v *vault) decrypt(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading encrypted file: %w", err)
	}
	if secretfile.IsEncrypted(data) {
		pt, err := secretfile.Reveal(data, os.LookupEnv)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return pt, nil
	}
	defer clear(data)
	key, err := v.jetKey(path)
	if err != nil {
		return nil, err
	}
	pt, _, err := jet.Decrypt(key, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pt, nil
}

// envFile decrypts an encrypted KEY=value file once and makes each value a secret.
func (v *vault) envFile(path string) ([]secret.EnvVar, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if vars, ok := v.envs[path]; ok {
		return vars, nil
	}
	pt, err := v.decrypt(path)
	if err != nil {
		return nil, err
	}
	vars, err := secret.ParseEnvFile(bytes.NewReader(pt))
	clear(pt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, e := range vars {
		v.set.AddValue(filepath.Base(path)+":"+e.Key, bytes.Clone(e.Value))
	}
	v.envs[path] = vars
	return vars, nil
}

// inline decrypts Jet-encrypted KEY=value text written in a services file
// (encrypted_environment, encrypted_args) and makes each value a secret.
func (v *vault) inline(id, text string) ([]secret.EnvVar, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if vars, ok := v.envs["inline:"+id]; ok {
		return vars, nil
	}
	key, err := v.jetKey(id)
	if err != nil {
		return nil, err
	}
	pt, _, err := jet.Decrypt(key, []byte(strings.TrimSpace(text)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	vars, err := secret.ParseEnvFile(bytes.NewReader(pt))
	clear(pt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	for _, e := range vars {
		v.set.AddValue(id+":"+e.Key, bytes.Clone(e.Value))
	}
	v.envs["inline:"+id] = vars
	return vars, nil
}

// dockercfg decrypts an encrypted dockercfg and makes every credential in it a secret
// (masked, audited). The caller wipes the returned bytes.
func (v *vault) dockercfg(path string) ([]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	pt, err := v.decrypt(path)
	if err != nil {
		return nil, err
	}
	for i, c := range credentials(pt) {
		v.set.AddValue(fmt.Sprintf("%s:credential-%d", filepath.Base(path), i+1), c)
	}
	return pt, nil
}

// credentials finds the secret fields of a dockercfg or config.json: auth (and the
// password inside it), password, identitytoken, registrytoken.
func credentials(cfg []byte) [][]byte {
	var top map[string]json.RawMessage
	if json.Unmarshal(cfg, &top) != nil {
		return [][]byte{bytes.Clone(cfg)}
	}
	entries := top
	if raw, ok := top["auths"]; ok {
		entries = nil
		_ = json.Unmarshal(raw, &entries)
	}
	var out [][]byte
	for _, raw := range entries {
		var e map[string]string
		if json.Unmarshal(raw, &e) != nil {
			continue
		}
		for _, k := range []string{"auth", "password", "identitytoken", "registrytoken"} {
			if e[k] != "" {
				out = append(out, []byte(e[k]))
			}
		}
		if dec, err := base64.StdEncoding.DecodeString(e["auth"]); err == nil {
			if _, pass, ok := bytes.Cut(dec, []byte(":")); ok && len(pass) > 0 {
				out = append(out, bytes.Clone(pass))
			}
			clear(dec)
		}
	}
	return out
}

// copyInto adds every value of the vault that set lacks under "pipeline:ID", so a
// build's audit searches its image for all of the pipeline's secrets, not only its own.
func (v *vault) copyInto(set *secret.Set) {
	have := set.Values()
	for id, val := range v.set.Values() {
		dup := false
		for _, h := range have {
			dup = dup || bytes.Equal(h, val)
		}
		if !dup {
			set.AddValue("pipeline:"+id, bytes.Clone(val))
		}
	}
}

// resolve makes a path of a pipeline file absolute (relative to dir).
func resolve(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// serviceEnv is a service's runtime environment for one step: its environment:, its
// env_file: entries (plain), then its encrypted env (files, inline), then the step's
// encrypted env files. Encrypted values are secrets of the vault.
func (v *vault) serviceEnv(p *codeship.Pipeline, svc *codeship.Service, st *codeship.Step) ([]string, error) {
	var env []string
	for _, e := range svc.Environment {
		if !e.Unset {
			env = append(env, e.Key+"="+e.Value)
		}
	}
	for _, f := range svc.EnvFiles {
		vars, err := secret.ReadEnvFile(resolve(p.Services.Dir, f), func(string) (string, bool) { return "", false })
		if err != nil {
			return nil, fmt.Errorf("service %s: env_file: %w", svc.Name, err)
		}
		for _, e := range vars {
			env = append(env, e.Key+"="+string(e.Value))
		}
	}
	files := append([]string(nil), svc.EncryptedEnvFiles...)
	for _, f := range files {
		vars, err := v.envFile(resolve(p.Services.Dir, f))
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", svc.Name, err)
		}
		env = appendVars(env, vars)
	}
	if svc.EncryptedEnvironment != "" {
		vars, err := v.inline(svc.Name+".encrypted_environment", svc.EncryptedEnvironment)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", svc.Name, err)
		}
		env = appendVars(env, vars)
	}
	if st != nil {
		for _, f := range st.EncryptedEnvFiles {
			vars, err := v.envFile(resolve(filepath.Dir(p.StepsFile), f))
			if err != nil {
				return nil, fmt.Errorf("step %q: %w", st.Name, err)
			}
			env = appendVars(env, vars)
		}
	}
	return env, nil
}

func appendVars(env []string, vars []secret.EnvVar) []string {
	for _, e := range vars {
		env = append(env, e.Key+"="+string(e.Value))
	}
	return env
}
