package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/codeship"
	"github.com/hush-build/hush/internal/progress"
	"github.com/hush-build/hush/internal/registry"
	"github.com/hush-build/hush/internal/secret"
)

// Env is what a run takes from its command: the state dir, the runtime, how registries
// are reached, the progress mode and the streams. It must run in hush's private mount
// namespace (builder.EnterNamespace).
type Env struct {
	Root     string
	Runtime  string
	Registry []registry.Option
	Insecure bool
	Progress string
	// Terminal is the stream the progress display checks for a TTY (os.Stderr).
	Terminal interface{ Fd() uintptr }
	Stdout   io.Writer
	Stderr   io.Writer
	// FingerprintKey is the shared key of rebuild-on-change fingerprints; nil: the state dir's.
	FingerprintKey *secret.FingerprintKey
}

// run is one pipeline run.
type run struct {
	env    Env
	o      Options
	p      *codeship.Pipeline
	vars   codeship.Vars
	id     string
	vault  *vault
	runner *builder.Builder // runs the containers; builds have builders of their own
	outw   io.Writer        // step output, masked
	errw   io.Writer        // hush's messages, masked
	closer []func() error

	mu        sync.Mutex
	images    map[string]string // service → image ID
	keychains map[string]authn.Keychain
	results   map[string]*result
}

// start loads the pipeline and decrypts every secret the selected work needs, before
// anything prints, so that everything printed is masked.
func start(ctx context.Context, env Env, o Options, needed func(*codeship.Pipeline, *Options) ([]string, []*codeship.Step)) (*run, []string, error) {
	p, vars, err := o.load(ctx)
	if err != nil {
		return nil, nil, err
	}
	if o.KeyPath == "" {
		o.KeyPath = filepath.Join(p.Services.Dir, "codeship.aes")
	}
	id := make([]byte, 6)
	_, _ = rand.Read(id)
	r := &run{env: env, o: o, p: p, vars: vars, id: hex.EncodeToString(id), vault: newVault(o.KeyPath),
		images: map[string]string{}, keychains: map[string]authn.Keychain{}, results: map[string]*result{}}
	names, steps := needed(p, &o)
	if err := r.preload(names, steps); err != nil {
		r.vault.Wipe()
		return nil, nil, err
	}
	r.streams()
	for _, w := range p.Warnings {
		fmt.Fprintf(r.errw, "warning: %s\n", w)
	}
	policy, err := builder.LoadGCPolicy(env.Root)
	if err == nil {
		r.runner, err = builder.Open(env.Root, builder.Config{Runtime: env.Runtime, GC: policy})
	}
	if err != nil {
		r.close()
		return nil, nil, err
	}
	return r, names, nil
}

// streams masks every value of the vault in what the run prints.
func (r *run) streams() {
	masks := r.vault.set.Masks()
	out := masks.Writer(r.env.Stdout)
	errw := masks.Writer(r.env.Stderr)
	r.outw = &lockedWriter{w: out}
	r.errw = &lockedWriter{w: errw}
	r.closer = append(r.closer, out.Close, errw.Close)
}

// close stops the run: the container builder, the masking writers, the values.
func (r *run) close() {
	if r.runner != nil {
		r.runner.Close()
	}
	for i := len(r.closer) - 1; i >= 0; i-- {
		r.closer[i]()
	}
	r.vault.Wipe()
}

// preload decrypts the encrypted files of the services and steps that will run.
func (r *run) preload(names []string, steps []*codeship.Step) error {
	for _, n := range names {
		svc, _ := r.p.Services.Get(n)
		if _, err := r.vault.serviceEnv(r.p, svc, nil); err != nil {
			return err
		}
		if svc.EncryptedDockercfgPath != "" {
			if err := r.loadDockercfg(svc.EncryptedDockercfgPath); err != nil {
				return fmt.Errorf("service %s: %w", n, err)
			}
		}
		if svc.Build != nil {
			set, _, err := r.buildSecrets(svc, map[string]string{})
			if err != nil {
				return fmt.Errorf("service %s: %w", n, err)
			}
			set.Wipe()
		}
	}
	for _, st := range steps {
		svc, _ := r.p.Services.Get(st.Service)
		if _, err := r.vault.serviceEnv(r.p, svc, st); err != nil {
			return err
		}
		if st.Type == codeship.TypePush && st.EncryptedDockercfgPath != "" {
			if err := r.loadDockercfg(st.EncryptedDockercfgPath); err != nil {
				return fmt.Errorf("step %q: %w", st.Name, err)
			}
		}
	}
	return nil
}

func (r *run) loadDockercfg(path string) error {
	data, err := r.vault.dockercfg(resolve(r.p.Dir, path))
	clear(data)
	return err
}

// runningSteps lists the run and push steps that will run for the tag (push ones only
// with push).
func runningSteps(p *codeship.Pipeline, tag string, push bool) []*codeship.Step {
	var out []*codeship.Step
	var walk func([]*codeship.Step)
	walk = func(ss []*codeship.Step) {
		for _, st := range ss {
			if st.Skipped(tag) != "" || (st.Type == codeship.TypePush && !push) {
				continue
			}
			if !st.IsGroup() {
				out = append(out, st)
			}
			walk(st.Steps)
		}
	}
	walk(p.Steps)
	return out
}

// Steps runs the pipeline as jet steps does: builds or pulls every service the selected
// steps need, runs the steps, pushes with --push, and ends with a summary table. A failing
// step stops the pipeline (a parallel group's siblings finish first).
func Steps(ctx context.Context, env Env, o Options) error {
	r, names, err := start(ctx, env, o, func(p *codeship.Pipeline, o *Options) ([]string, []*codeship.Step) {
		return p.Needed(o.Tag, o.Push), runningSteps(p, o.Tag, o.Push)
	})
	if err != nil {
		return err
	}
	defer r.close()
	if err := r.prepareWithDisplay(ctx, names); err != nil {
		return r.redact(err)
	}
	err = r.runSteps(ctx, r.p.Steps)
	var leaves []string
	codeship.Walk(r.p.Steps, func(st *codeship.Step, _ int) {
		if !st.IsGroup() {
			leaves = append(leaves, st.Name)
		}
	})
	summary(r.outw, leaves, r.results)
	if errors.Is(err, errStepFailed) {
		return ErrFailed
	}
	return r.redact(err)
}

// redact masks the pipeline's secret values in an error's text (a failed build's error
// quotes its last output lines), keeping a container's exit status readable.
func (r *run) redact(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := builder.ExitCode(err); ok {
		return err
	}
	msg := r.vault.set.Redact([]byte(err.Error()))
	if string(msg) == err.Error() {
		return err
	}
	return errors.New(string(msg))
}

// ErrFailed is what Steps returns when a step failed (its output and the summary said
// which and why).
var ErrFailed = errors.New("the pipeline failed")

// prepareWithDisplay builds and pulls under one progress display.
func (r *run) prepareWithDisplay(ctx context.Context, names []string) error {
	var opts []progress.Option
	if r.env.Terminal != nil {
		opts = append(opts, progress.WithTerminal(r.env.Terminal))
	}
	disp, err := progress.New(r.errw, r.env.Progress, opts...)
	if err != nil {
		return err
	}
	err = r.prepare(ctx, names, disp)
	if cerr := disp.Close(); err == nil {
		err = cerr
	}
	return err
}

// Run runs one service as jet run does: builds or pulls it and its linked services,
// starts those, runs command (the service's own when empty) with its output unprefixed,
// and returns the container's exit status as builder.ExitCode reads it.
func Run(ctx context.Context, env Env, o Options, service string, command []string) error {
	o.Files.NoSteps = true
	var svc *codeship.Service
	r, names, err := start(ctx, env, o, func(p *codeship.Pipeline, _ *Options) ([]string, []*codeship.Step) {
		s, ok := p.Services.Get(service)
		if !ok {
			return nil, nil
		}
		svc = s
		return p.NeededBy([]string{service}), nil
	})
	if err != nil {
		return err
	}
	defer r.close()
	if svc == nil {
		return fmt.Errorf("service %q is not defined in %s (services: %v)", service, r.p.Rel(r.p.ServicesFile), r.p.Services.Names())
	}
	if err := r.prepareWithDisplay(ctx, names); err != nil {
		return r.redact(err)
	}
	c := container{svc: svc, stdout: r.outw, stderr: r.errw}
	if len(command) > 0 {
		c.command = command
	}
	return r.redact(r.withLinks(ctx, svc, svc.Name, func(net *stepNet) error {
		return r.runContainer(ctx, net, c)
	}))
}
