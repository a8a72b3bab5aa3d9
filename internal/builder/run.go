package builder

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hush-build/hush/internal/cache"
	"github.com/hush-build/hush/internal/executor"
	"github.com/hush-build/hush/internal/fscopy"
	"github.com/hush-build/hush/internal/fsroot"
	"github.com/hush-build/hush/internal/plan"
	"github.com/hush-build/hush/internal/progress"
	"github.com/hush-build/hush/internal/snapshot"
)

func (r *run) runAction(ctx context.Context, st *plan.Stage, res *stageResult, step *plan.Step) (*action, error) {
	if err := entitled(step, r.opts); err != nil {
		return nil, err // an ONBUILD trigger's RUN, which the early check did not see
	}
	network := step.Network
	if network == "" || network == "default" {
		network = r.opts.Network
	}
	k := cache.NewKey("run", res.key).
		AddList("args", step.Args).AddList("env", step.Env).
		Add("user", step.User).Add("workdir", step.Workdir).Add("network", network)
	if step.Script != nil {
		k.Add("script", step.Script.Name).Add("script-data", step.Script.Data)
	}
	addLimitKeys(k, r.limits(step))
	bound, err := r.addMountKeys(ctx, st, k, step)
	if err != nil {
		return nil, err
	}
	a := &action{key: k.Sum(), bound: bound || r.isBound(res.key)}
	a.execute = func(ctx context.Context, ws *snapshot.Workspace, ps *progress.Step) (finish, error) {
		stubs, err := r.execRun(ctx, st, ws, step, network, ps)
		if err != nil || stubs == nil {
			return nil, err
		}
		return stubs.Remove, nil
	}
	return a, nil
}

// execRun runs the step's process; the returned stubs are removed from the upper dir
// once the rootfs is unmounted.
func (r *run) execRun(ctx context.Context, st *plan.Stage, ws *snapshot.Workspace, step *plan.Step, network string, ps *progress.Step) (*executor.Stubs, error) {
	user := step.User
	if user == "" {
		user = "0"
	}
	owner, err := fscopy.ResolveOwner(ws.Merged, user)
	if err != nil {
		return nil, fmt.Errorf("USER %s: %w", step.User, err)
	}
	groups, err := fscopy.Groups(ws.Merged, user, uint32(owner.GID))
	if err != nil {
		return nil, fmt.Errorf("USER %s: %w", step.User, err)
	}
	id := newID()
	c := &executor.Container{
		ID: id, Rootfs: ws.Merged, Args: step.Args, Env: step.Env, Cwd: step.Workdir,
		UID: uint32(owner.UID), GID: uint32(owner.GID), Groups: groups, Network: network, Limits: r.limits(step),
	}
	if network == "default" {
		c.NetNS = r.s.stepNetNS(ctx, r.opts.Progress.Warn)
	}
	// Step output is masked before the display sees it (TTY rows are truncated, which
	// could split a secret).
	out := r.opts.Mask.Writer(ps)
	defer out.Close()
	c.Stdout, c.Stderr = out, out
	if step.Script != nil {
		dir := filepath.Join(r.b.scriptDir(), id)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("writing inline script: %w", err)
		}
		defer os.RemoveAll(dir)
		f := filepath.Join(dir, "script")
		if err := os.WriteFile(f, []byte(step.Script.Data), 0o755); err != nil {
			return nil, fmt.Errorf("writing inline script: %w", err)
		}
		c.Mounts = append(c.Mounts, specs.Mount{Destination: step.ScriptPath(), Type: "bind", Source: f,
			Options: []string{"bind", "ro", "nosuid", "nodev"}})
	}
	sm, err := r.setupMounts(ctx, st, step, id)
	if err != nil {
		return nil, err
	}
	defer sm.close()
	c.Mounts = append(c.Mounts, sm.mounts...)
	c.Env = append(append([]string(nil), c.Env...), sm.env...)
	rootfs, err := fsroot.Open(ws.Merged)
	if err != nil {
		return nil, err
	}
	defer rootfs.Close()
	stubs := executor.FindStubs(rootfs, append(executor.Targets(c), step.Workdir)) // c.Mounts includes the --mount targets
	if _, err := rootfs.MkdirAll(step.Workdir, 0o755, fsroot.Owner{}); err != nil {
		return stubs, fmt.Errorf("creating working directory %s: %w", step.Workdir, err)
	}
	if runErr := r.b.Runtime.Run(ctx, c); runErr != nil {
		var ee *executor.ExitError
		if errors.As(runErr, &ee) {
			// The progress display prints the step's last output lines with the error.
			return stubs, fmt.Errorf("process %q did not complete successfully: %w", argsString(step.Args), ee)
		}
		return stubs, runErr
	}
	return stubs, nil
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "hush-" + hex.EncodeToString(b)
}
