package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/codeship"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/progress"
	"github.com/hush-build/hush/internal/secret"
	"github.com/hush-build/hush/internal/secretfile"
	"github.com/hush-build/hush/internal/sink"
)

// prepare builds or pulls every named service, concurrently (a generator service a
// service's credentials come from first), and records each service's image ID.
func (r *run) prepare(ctx context.Context, names []string, disp *progress.Display) error {
	var first, rest []string
	gens := map[string]bool{}
	for _, n := range names {
		if svc, _ := r.p.Services.Get(n); svc.DockercfgService != "" && svc.EncryptedDockercfgPath == "" {
			gens[svc.DockercfgService] = true
		}
	}
	for _, n := range names {
		if gens[n] {
			first = append(first, n)
		} else {
			rest = append(rest, n)
		}
	}
	for _, batch := range [][]string{first, rest} {
		if err := r.prepareAll(ctx, batch, disp); err != nil {
			return err
		}
	}
	return nil
}

// prepareAll builds or pulls the services side by side, all through the run's one
// Builder (each build has a session of its own: scratch dir, lease, self-audit).
func (r *run) prepareAll(ctx context.Context, names []string, disp *progress.Display) error {
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.prepareOne(ctx, r.runner, n, disp)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// prepareOne builds a service's image into the store under its name, or pulls it.
func (r *run) prepareOne(ctx context.Context, b *builder.Builder, name string, disp *progress.Display) error {
	svc, _ := r.p.Services.Get(name)
	reg, err := r.access(ctx, svc.EncryptedDockercfgPath, svc.DockercfgService, "")
	if err != nil {
		return fmt.Errorf("service %s: %w", name, err)
	}
	if svc.Build == nil {
		st := disp.Start(fmt.Sprintf("[%s] pulling %s", name, svc.Image))
		res := &image.Resolver{Store: b.Images, Lease: b.Lease, Keychain: reg.keychain, Transport: reg.transport, Insecure: r.env.Insecure}
		img, err := res.Resolve(ctx, svc.Image)
		if err == nil {
			var id fmt.Stringer
			if id, err = img.ConfigName(); err == nil {
				r.setImage(name, id.String())
			}
		}
		st.Done(err)
		if err != nil {
			return fmt.Errorf("service %s: %w", name, err)
		}
		return nil
	}
	return r.build(ctx, b, svc, reg, disp)
}

// build builds a service: plain args and encrypted args as build args (Codeship's way),
// each encrypted arg also a build secret with the same id, compose build secrets, and
// every secret of the pipeline audited for in the image.
func (r *run) build(ctx context.Context, b *builder.Builder, svc *codeship.Service, reg access, disp *progress.Display) error {
	args := map[string]string{}
	for _, a := range svc.Build.Args {
		if !a.Unset {
			args[a.Key] = a.Value
		}
	}
	set, encrypted, err := r.buildSecrets(svc, args)
	if err != nil {
		return fmt.Errorf("service %s: %w", svc.Name, err)
	}
	defer set.Wipe()
	ctxDir, dockerfile := r.p.BuildPaths(svc)
	name, err := image.NormalizeName(svc.Image)
	if err != nil {
		return fmt.Errorf("service %s: image %q: %w", svc.Name, svc.Image, err)
	}
	sinks, _, err := sink.Plan(nil, []string{name}, sink.Env{Store: b.Images})
	if err != nil {
		return err
	}
	out := make([]builder.Sink, len(sinks))
	for i, s := range sinks {
		out[i] = s
	}
	req := builder.Request{Context: ctxDir, Dockerfile: dockerfile, BuildArgs: args, Target: svc.Build.Target,
		Network: "default", Secrets: set, Audit: r.o.Audit, Registry: builder.Registry{Keychain: reg.keychain, Transport: reg.transport, Insecure: r.env.Insecure},
		Sinks: out, Progress: disp, Log: r.errw, FingerprintKey: r.env.FingerprintKey}
	if svc.Cached {
		var warn string
		req.CacheFrom, req.CacheTo, warn = serviceCache(svc, name, r.vars.Branch)
		if warn != "" {
			disp.Warn(warn)
		}
	}
	pub, err := b.Run(ctx, req)
	if err != nil {
		return fmt.Errorf("service %s: %w%s", svc.Name, err, auditAdvice(err, encrypted))
	}
	r.setImage(svc.Name, pub.ID.String())
	return nil
}

// auditAdvice is what to do when the self-audit found an encrypted build arg's value in
// the image.
func auditAdvice(err error, encrypted []string) string {
	if len(encrypted) == 0 || !strings.Contains(err.Error(), "audit found") {
		return ""
	}
	var found []string
	for _, id := range encrypted {
		if strings.Contains(err.Error(), "secret "+id+" (") {
			found = append(found, id)
		}
	}
	if len(found) == 0 {
		return ""
	}
	return fmt.Sprintf("\nencrypted build arg(s) %s reached the image, as build args do (its history records them). "+
		"hush also offers each as a build secret with the same id: in the Dockerfile, drop the ARG and use "+
		"RUN --mount=type=secret,id=%s,env=%s …; or pass --audit=warn to keep Codeship's behaviour",
		strings.Join(found, ", "), found[0], found[0])
}

// buildSecrets makes a build's secret set: each encrypted arg (id = its name, also added
// to args), compose build secrets, and the pipeline's other values for the audit. It
// returns the encrypted args' names.
func (r *run) buildSecrets(svc *codeship.Service, args map[string]string) (*secret.Set, []string, error) {
	set := secret.NewSet()
	var vars []secret.EnvVar
	for _, f := range svc.Build.EncryptedArgsFiles {
		vs, err := r.vault.envFile(resolve(r.p.Services.Dir, f))
		if err != nil {
			set.Wipe()
			return nil, nil, err
		}
		vars = append(vars, vs...)
	}
	if svc.Build.EncryptedArgs != "" {
		vs, err := r.vault.inline(svc.Name+".encrypted_args", svc.Build.EncryptedArgs)
		if err != nil {
			set.Wipe()
			return nil, nil, err
		}
		vars = append(vars, vs...)
	}
	var names []string
	for _, e := range vars {
		args[e.Key] = string(e.Value)
		set.AddValue(e.Key, bytes.Clone(e.Value))
		names = append(names, e.Key)
	}
	if err := r.composeSecrets(svc, set); err != nil {
		set.Wipe()
		return nil, nil, err
	}
	r.vault.copyInto(set)
	sort.Strings(names)
	return set, names, nil
}

// composeSecrets adds compose's build.secrets: top-level secrets: file (plain or age) or
// environment.
func (r *run) composeSecrets(svc *codeship.Service, set *secret.Set) error {
	for _, bs := range svc.Build.Secrets {
		top := r.p.Services.Secrets[bs.Source]
		id := bs.Target
		if id == "" {
			id = bs.Source
		}
		var val []byte
		if top.File != "" {
			v, err := secretfile.OpenEnv(resolve(r.p.Services.Dir, top.File), os.LookupEnv)
			if err != nil {
				return fmt.Errorf("build secret %s: %w", bs.Source, err)
			}
			val = v
		} else {
			v, ok := os.LookupEnv(top.Environment)
			if !ok {
				return fmt.Errorf("build secret %s: environment variable %s is not set", bs.Source, top.Environment)
			}
			val = []byte(v)
		}
		set.AddValue(id, val)
		r.vault.set.AddValue("compose:"+id, bytes.Clone(val))
	}
	return nil
}

// setImage records a service's image ID.
func (r *run) setImage(name, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.images[name] = id
}

// imageOf is a prepared service's image ID.
func (r *run) imageOf(name string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.images[name]
	if !ok {
		return "", fmt.Errorf("internal error: service %s was not prepared", name)
	}
	return id, nil
}
