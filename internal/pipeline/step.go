package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/hush-build/hush/internal/rootless"

	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/codeship"
	"github.com/hush-build/hush/internal/image"
	"github.com/hush-build/hush/internal/registry"
)

// errStepFailed marks a pipeline stopped by a failing step (its output said why).
var errStepFailed = errors.New("a step failed")

// runSteps runs steps in turn; the first failure stops the rest.
func (r *run) runSteps(ctx context.Context, steps []*codeship.Step) error {
	for _, st := range steps {
		if err := r.runStep(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

// runStep runs one step: a group's children (in turn, or side by side: a failing child
// fails the group once its siblings finished), a command, or a push.
func (r *run) runStep(ctx context.Context, st *codeship.Step) error {
	if why := st.Skipped(r.o.Tag); why != "" {
		r.skip(st, "skipped ("+why+")")
		return nil
	}
	switch st.Type {
	case codeship.TypeSerial:
		return r.runSteps(ctx, st.Steps)
	case codeship.TypeParallel:
		errs := make([]error, len(st.Steps))
		var wg sync.WaitGroup
		for i, c := range st.Steps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = r.runStep(ctx, c)
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	case codeship.TypePush:
		if !r.o.Push {
			r.skip(st, "skipped (no --push)")
			return nil
		}
		return r.timed(st, func() error { return r.push(ctx, st) })
	}
	return r.timed(st, func() error { return r.command(ctx, st) })
}

// skip records a step (and every run or push step under it) as skipped.
func (r *run) skip(st *codeship.Step, why string) {
	codeship.Walk([]*codeship.Step{st}, func(s *codeship.Step, _ int) {
		if !s.IsGroup() {
			r.record(s.Name, &result{status: why})
		}
	})
	fmt.Fprintf(r.errw, "step %s: %s\n", st.Name, why)
}

func (r *run) record(name string, res *result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results[name] = res
}

// timed runs fn as st and records how it went.
func (r *run) timed(st *codeship.Step, fn func() error) error {
	start := time.Now()
	err := fn()
	res := &result{status: "passed", dur: time.Since(start)}
	if err != nil {
		res.status = "failed"
		if code, ok := builder.ExitCode(err); ok {
			err = fmt.Errorf("the command exited with code %d", code)
		}
		fmt.Fprintf(r.errw, "step %s failed: %v\n", st.Name, err)
		err = fmt.Errorf("step %q: %w", st.Name, errStepFailed)
	}
	r.record(st.Name, res)
	return err
}

// command runs a run step's command in its service's container, in a network namespace
// of the step's own, its linked services started first and stopped after it.
func (r *run) command(ctx context.Context, st *codeship.Step) error {
	svc, _ := r.p.Services.Get(st.Service)
	argv, err := words(codeship.Command{Text: st.Command})
	if err != nil {
		return fmt.Errorf("command: %w", err)
	}
	out := newPrefixWriter(r.outw, st.Name+" | ")
	defer out.Close()
	return r.withLinks(ctx, svc, st.Name, func(net *stepNet) error {
		return r.runContainer(ctx, net, container{svc: svc, step: st, command: argv, stdout: out, stderr: out})
	})
}

// withLinks makes the step's network, starts the service's linked services (links and
// depends_on, transitively, dependencies first) in it, runs fn, then stops them.
func (r *run) withLinks(ctx context.Context, svc *codeship.Service, label string, fn func(*stepNet) error) error {
	linked, names, err := r.linked(svc)
	if err != nil {
		return err
	}
	if len(linked) > 0 && rootless.SharedProc() {
		// Under a masked /proc steps run one at a time (none may see another's
		// environment), so a step could never run beside the services it links to.
		return fmt.Errorf("service %s links to %s, which must run beside its step; under this container's masked /proc hush runs one container at a time: "+
			"run the container with --security-opt systempaths=unconfined (Kubernetes: procMount: Unmasked)", svc.Name, linked[0].Name)
	}
	net, err := r.newStepNet(ctx, names)
	if err != nil {
		return err
	}
	defer net.Close()
	lctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stop()
		wg.Wait()
	}()
	for _, l := range linked {
		w := newPrefixWriter(r.outw, label+"/"+l.Name+" | ")
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.Close()
			if err := r.runContainer(lctx, net, container{svc: l, stdout: w, stderr: w}); err != nil && lctx.Err() == nil {
				fmt.Fprintf(w, "linked service %s ended: %v\n", l.Name, err)
			}
		}()
	}
	return fn(net)
}

// linked lists the services svc links to or depends on, transitively, dependencies
// first, and the host names the step's containers reach each other by.
func (r *run) linked(svc *codeship.Service) ([]*codeship.Service, []string, error) {
	var order []*codeship.Service
	names := []string{svc.Name}
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(s *codeship.Service) error
	visit = func(s *codeship.Service) error {
		switch state[s.Name] {
		case 1:
			return fmt.Errorf("services link to each other in a cycle through %s", s.Name)
		case 2:
			return nil
		}
		state[s.Name] = 1
		deps := append([]string(nil), s.DependsOn...)
		for _, l := range s.Links {
			deps = append(deps, l.Service)
			if l.Alias != "" {
				names = append(names, l.Alias)
			}
		}
		for _, d := range deps {
			dep, _ := r.p.Services.Get(d)
			if err := visit(dep); err != nil {
				return err
			}
		}
		state[s.Name] = 2
		if s != svc {
			order = append(order, s)
			names = append(names, s.Name)
		}
		return nil
	}
	return order, names, visit(svc)
}

// push tags the service's image image_name:image_tag in the store and pushes it with
// the step's credentials, looked up for its registry.
func (r *run) push(ctx context.Context, st *codeship.Step) error {
	id, err := r.imageOf(st.Service)
	if err != nil {
		return err
	}
	tag, err := st.ImageTagFor(r.vars)
	if err != nil {
		return err
	}
	ref, err := image.NormalizeName(st.ImageName + ":" + tag)
	if err != nil {
		return fmt.Errorf("image_name %q: %w", st.ImageName, err)
	}
	img, _, err := r.runner.Images.Image(id)
	if err != nil {
		return err
	}
	if _, err := r.runner.Images.Put(img, ref); err != nil {
		return fmt.Errorf("tagging %s: %w", ref, err)
	}
	acc, err := r.access(ctx, st.EncryptedDockercfgPath, st.DockercfgService, st.Registry)
	if err != nil {
		return err
	}
	fmt.Fprintf(r.errw, "step %s: pushing %s\n", st.Name, ref)
	if err := registry.Push(ctx, img, ref, acc.keychain, r.env.Registry...); err != nil {
		return err
	}
	fmt.Fprintf(r.errw, "step %s: pushed %s\n", st.Name, ref)
	return nil
}

// generator runs a dockercfg_service as Codeship's generator contract says: the
// service's container (its own environment, encrypted env included, and links) with the
// output path as the last argument, its private tmpfs dir mounted at
// registry.ImageOutDir. package registry reads the file and deletes it at once.
func (r *run) generator(ctx context.Context, name string, args []string, dir string, stdout, stderr io.Writer) error {
	svc, ok := r.p.Services.Get(name)
	if !ok {
		return fmt.Errorf("dockercfg_service %s is not a service", name)
	}
	c := container{svc: svc, args: args[len(args)-1:], stdout: stdout, stderr: stderr,
		mounts:  outMount(dir),
		prepare: func(uid, gid int) error { return os.Chown(dir, uid, gid) }}
	if !svc.Command.IsSet() {
		c.command = []string{} // the output path is its CMD, as with `docker run GEN PATH`
	}
	return r.withLinks(ctx, svc, "dockercfg "+name, func(net *stepNet) error {
		return r.runContainer(ctx, net, c)
	})
}
