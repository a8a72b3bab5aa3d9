package builder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hush-build/hush/internal/cache"
	"github.com/hush-build/hush/internal/fscopy"
	"github.com/hush-build/hush/internal/plan"
	"github.com/hush-build/hush/internal/secret"
)

// Secrets is what a build needs from the secret store.
type Secrets interface {
	secret.Provider
	Has(id string) bool
	RebuildOnChange(id string) bool
}

// SSHSource serves a read-only agent socket for one --ssh id.
type SSHSource interface {
	Serve(path string, uid, gid int, mode os.FileMode) (stop func() error, err error)
}

// stepMounts is what a RUN's --mount flags add to its container.
type stepMounts struct {
	mounts  []specs.Mount
	env     []string
	cleanup []func()
}

func (m *stepMounts) close() {
	for i := len(m.cleanup) - 1; i >= 0; i-- {
		m.cleanup[i]()
	}
	m.cleanup = nil
}

// secretID is the id a secret mount reads: id=, else source=, else the target's base name.
func secretID(m *instructions.Mount) string {
	switch {
	case m.CacheID != "":
		return m.CacheID
	case m.Source != "":
		return m.Source
	case m.Target != "":
		return path.Base(m.Target)
	}
	return ""
}

func sshID(m *instructions.Mount) string {
	if m.CacheID != "" {
		return m.CacheID
	}
	return "default"
}

// mountTarget resolves a target the way BuildKit does: secret and ssh targets are taken
// from "/", the others from the working directory.
func mountTarget(m *instructions.Mount, workdir string) string {
	t := m.Target
	if path.IsAbs(t) {
		return path.Clean(t)
	}
	if m.Type == instructions.MountTypeSecret || m.Type == instructions.MountTypeSSH {
		return path.Join("/", t)
	}
	return path.Join("/", workdir, t)
}

func octal(p *uint64, def os.FileMode) os.FileMode {
	if p == nil {
		return def
	}
	return os.FileMode(*p)
}

func num(p *uint64) int {
	if p == nil {
		return 0
	}
	return int(*p)
}

// addMountKeys adds every mount's non-secret description to a RUN's cache key. A secret's
// content enters only as a keyed fingerprint, and only when its spec opts in. bound reports
// a key no other machine computes: a fingerprint under the state dir's own key, or a bind
// mount of a stage whose key is bound.
func (r *run) addMountKeys(ctx context.Context, st *plan.Stage, k *cache.Key, step *plan.Step) (bound bool, err error) {
	for i, m := range step.Mounts {
		p := "mount" + strconv.Itoa(i) + "."
		k.Add(p+"type", string(m.Type)).Add(p+"target", mountTarget(m, step.Workdir)).
			Add(p+"ro", strconv.FormatBool(m.ReadOnly))
		switch m.Type {
		case instructions.MountTypeSecret:
			id := secretID(m)
			k.Add(p+"id", id)
			if m.Env != nil {
				k.Add(p+"env", *m.Env)
			}
			if r.opts.Secrets != nil && r.opts.Secrets.Has(id) && r.opts.Secrets.RebuildOnChange(id) {
				v, err := r.opts.Secrets.Get(ctx, id)
				if err != nil {
					return false, err
				}
				fk := r.opts.FingerprintKey
				if fk == nil {
					fk, bound = r.b.Fingerprints, true
				}
				k.Add(p+"secret", fk.Fingerprint(id, v))
				clear(v)
			}
		case instructions.MountTypeSSH:
			k.Add(p+"id", sshID(m))
		case instructions.MountTypeCache:
			k.Add(p+"id", m.CacheID).Add(p+"from", m.From).Add(p+"source", m.Source)
		case instructions.MountTypeTmpfs:
			k.Add(p+"size", strconv.FormatInt(m.SizeLimit, 10))
		case instructions.MountTypeBind:
			id, from, err := r.bindIdentity(ctx, st, m)
			if err != nil {
				return false, err
			}
			k.Add(p+"source", id)
			bound = bound || r.isBound(from)
		}
		k.Add(p+"mode", fmt.Sprint(octal(m.Mode, 0))).Add(p+"uid", strconv.Itoa(num(m.UID))).
			Add(p+"gid", strconv.Itoa(num(m.GID)))
	}
	return bound, nil
}

// bindIdentity names the content a bind mount shows, for the cache key, and the key of the
// stage or image it comes from ("" for the context).
func (r *run) bindIdentity(ctx context.Context, st *plan.Stage, m *instructions.Mount) (id, from string, err error) {
	src := path.Join("/", m.Source)
	c, id, err := r.dirContext(ctx, st, m.From)
	if err != nil {
		return "", "", err
	}
	if m.From == "" {
		c, id = r.opts.Context, "context"
		r.showContextLoad()
	}
	if c != nil {
		d, err := fscopy.Digest(r.sourceOf(c), []string{src})
		if err != nil {
			return "", "", fmt.Errorf("--mount=type=bind,source=%s: %w", m.Source, err)
		}
		return id + ":" + src + ":" + d, "", nil
	}
	fs, _ := r.plan.ResolveFrom(st, m.From)
	fr, err := r.fromSource(ctx, st, m.From, fs)
	if err != nil {
		return "", "", err
	}
	return fr.key + ":" + src, fr.key, nil
}

func (r *run) contextSource() fscopy.Source {
	r.showContextLoad()
	return r.sourceOf(r.opts.Context)
}

// setupMounts prepares every --mount of a RUN for container id.
func (r *run) setupMounts(ctx context.Context, st *plan.Stage, step *plan.Step, id string) (*stepMounts, error) {
	sm := &stepMounts{}
	sshN := 0
	for _, m := range step.Mounts {
		target := mountTarget(m, step.Workdir)
		var err error
		switch m.Type {
		case instructions.MountTypeSecret:
			err = r.secretMount(ctx, sm, m, id)
		case instructions.MountTypeSSH:
			err = r.sshMount(sm, m, id, sshN)
			sshN++
		case instructions.MountTypeTmpfs:
			opts := []string{"nosuid", "nodev"}
			if m.SizeLimit > 0 {
				opts = append(opts, "size="+strconv.FormatInt(m.SizeLimit, 10))
			}
			sm.add(specs.Mount{Destination: target, Type: "tmpfs", Source: "tmpfs", Options: opts})
		case instructions.MountTypeCache:
			err = r.cacheMount(ctx, st, sm, m, target)
		case instructions.MountTypeBind:
			err = r.bindMount(ctx, st, sm, m, target)
		default:
			err = fmt.Errorf("unsupported mount type %q", m.Type)
		}
		if err != nil {
			sm.close()
			return nil, fmt.Errorf("--mount=type=%s,target=%s: %w", m.Type, m.Target, err)
		}
	}
	return sm, nil
}

func (sm *stepMounts) add(m specs.Mount) {
	sm.mounts = append(sm.mounts, m)
}

// secretMount puts a secret on the tmpfs (file) and/or into the step's environment.
// A missing optional secret mounts nothing and leaves its env var unset.
func (r *run) secretMount(ctx context.Context, sm *stepMounts, m *instructions.Mount, cid string) error {
	id := secretID(m)
	if id == "" {
		return errors.New("one of source, target required")
	}
	if r.opts.Secrets == nil || !r.opts.Secrets.Has(id) {
		if m.Required {
			return fmt.Errorf("secret %s: required but not supplied (--secret id=%s,…)", id, id)
		}
		return nil
	}
	v, err := r.opts.Secrets.Get(ctx, id)
	if err != nil {
		return err
	}
	defer clear(v)
	if m.Env != nil {
		sm.env = append(sm.env, *m.Env+"="+string(v))
		if m.Target == "" {
			return nil
		}
	}
	target := "/run/secrets/" + path.Base(id)
	if m.Target != "" {
		target = mountTarget(m, "/")
	}
	dir := filepath.Join(r.b.RunDir, "secrets", cid)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("secret %s: creating tmpfs dir: %w", id, err)
	}
	f := filepath.Join(dir, strconv.Itoa(len(sm.mounts)))
	sm.cleanup = append(sm.cleanup, func() { os.RemoveAll(dir) })
	mode := octal(m.Mode, 0o400)
	if err := writeSecretFile(f, v, mode, num(m.UID), num(m.GID)); err != nil {
		return fmt.Errorf("secret %s: %w", id, err)
	}
	opts := []string{"rbind", "ro", "nosuid", "nodev"}
	if mode&0o111 == 0 {
		opts = append(opts, "noexec")
	}
	sm.add(specs.Mount{Destination: target, Type: "bind", Source: f, Options: opts})
	return nil
}

func writeSecretFile(p string, v []byte, mode os.FileMode, uid, gid int) error {
	fd, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("creating secret file on tmpfs: %w", err)
	}
	_, werr := fd.Write(v)
	cerr := fd.Close()
	if werr != nil || cerr != nil {
		return fmt.Errorf("writing secret file on tmpfs: %w", errors.Join(werr, cerr))
	}
	if err := os.Chown(p, uid, gid); err != nil {
		return fmt.Errorf("chown secret file: %w", err)
	}
	if err := os.Chmod(p, mode); err != nil {
		return fmt.Errorf("chmod secret file: %w", err)
	}
	return nil
}

// sshMount serves a read-only agent socket and binds it into the step.
func (r *run) sshMount(sm *stepMounts, m *instructions.Mount, cid string, n int) error {
	if m.Source != "" {
		return errors.New("ssh does not support source")
	}
	id := sshID(m)
	src, ok := r.opts.SSH[id]
	if !ok {
		if m.Required {
			return fmt.Errorf("ssh agent %s: required but not supplied (--ssh %s=…)", id, id)
		}
		return nil
	}
	target := "/run/buildkit/ssh_agent." + strconv.Itoa(n)
	if m.Target != "" {
		target = mountTarget(m, "/")
	}
	dir := filepath.Join(r.b.RunDir, "ssh", cid)
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return fmt.Errorf("creating agent socket dir: %w", err)
	}
	sock := filepath.Join(dir, strconv.Itoa(n)+".sock")
	stop, err := src.Serve(sock, num(m.UID), num(m.GID), octal(m.Mode, 0o600))
	if err != nil {
		return fmt.Errorf("ssh agent %s: %w", id, err)
	}
	sm.cleanup = append(sm.cleanup, func() { _ = stop(); os.RemoveAll(dir) })
	sm.add(specs.Mount{Destination: target, Type: "bind", Source: sock, Options: []string{"rbind", "nosuid", "nodev", "noexec"}})
	if n == 0 {
		sm.env = append(sm.env, "SSH_AUTH_SOCK="+target)
	}
	return nil
}

// cacheDir is the persistent directory of a cache mount id.
func (r *run) cacheDir(id string) string {
	sum := sha256.Sum256([]byte(id))
	return filepath.Join(r.b.CacheMountDir, hex.EncodeToString(sum[:16]))
}
