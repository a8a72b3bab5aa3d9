package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// bareEnv marks the re-executed harness that times bare runtime starts inside its own
// mount namespace.
const bareEnv = "HUSH_BENCH_BARE_CHILD"

// bareRequest is what the parent sends the child on standard input.
type bareRequest struct {
	Runtimes []string `json:"runtimes"` // binary paths
	Bundle   string   `json:"bundle"`
	StateDir string   `json:"state_dir"`
	Runs     int      `json:"runs"`
}

// bareResult is what the child prints: per runtime, the wall time of each `run`.
type bareResult struct {
	Samples map[string][]time.Duration `json:"samples"`
}

// prepareBundle unpacks baseTar into dir/rootfs and writes a config.json from the
// runtime's own `spec` template, running `true` with hush's namespaces (pid, ipc, uts,
// mount; the host network, as hush's default) and no terminal.
func prepareBundle(ctx context.Context, runtime, baseTar, dir string) error {
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return fmt.Errorf("creating bundle: %w", err)
	}
	if err := command(ctx, nil, "tar", "-xf", baseTar, "-C", rootfs); err != nil {
		return fmt.Errorf("unpacking bundle rootfs: %w", err)
	}
	if err := command(ctx, nil, runtime, "spec", "--bundle", dir); err != nil {
		return fmt.Errorf("writing bundle spec: %w", err)
	}
	p := filepath.Join(dir, "config.json")
	raw, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("reading bundle spec: %w", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("parsing bundle spec: %w", err)
	}
	if s.Process == nil || s.Linux == nil || s.Root == nil {
		return errors.New("parsing bundle spec: no process, root or linux section")
	}
	s.Process.Args = []string{"true"}
	s.Process.Terminal = false
	s.Root.Path = "rootfs"
	s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool {
		return n.Type == specs.NetworkNamespace || n.Type == specs.CgroupNamespace
	})
	out, err := json.MarshalIndent(&s, "", "\t")
	if err != nil {
		return fmt.Errorf("encoding bundle spec: %w", err)
	}
	if err := os.WriteFile(p, out, 0o644); err != nil {
		return fmt.Errorf("writing bundle spec: %w", err)
	}
	return nil
}

// measureBare re-executes this harness in a new mount namespace (as hush does for
// builds) and times runs of `true` in the bundle with each runtime, alternating them.
func measureBare(ctx context.Context, req bareRequest) (bareResult, error) {
	self, err := os.Executable()
	if err != nil {
		return bareResult{}, fmt.Errorf("finding harness executable: %w", err)
	}
	in, err := json.Marshal(req)
	if err != nil {
		return bareResult{}, fmt.Errorf("encoding bare request: %w", err)
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), bareEnv+"=1")
	cmd.Stdin = strings.NewReader(string(in))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.Output()
	if err != nil {
		return bareResult{}, fmt.Errorf("timing bare runtimes: %w", err)
	}
	var res bareResult
	if err := json.Unmarshal(out, &res); err != nil {
		return bareResult{}, fmt.Errorf("reading bare timings: %w", err)
	}
	return res, nil
}

// bareChild is the child side of measureBare: it detaches the cgroup v2 hierarchy of a
// hybrid host (crun refuses to start when it sees one, and hush detaches it too), then
// runs the bundle with each runtime.
func bareChild(ctx context.Context) error {
	var req bareRequest
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		return fmt.Errorf("reading bare request: %w", err)
	}
	_ = unix.Unmount("/sys/fs/cgroup/unified", unix.MNT_DETACH)
	if err := os.MkdirAll(req.StateDir, 0o700); err != nil {
		return fmt.Errorf("creating runtime state dir: %w", err)
	}
	res := bareResult{Samples: map[string][]time.Duration{}}
	for i, s := range alternate(len(req.Runtimes), req.Runs) {
		rt := req.Runtimes[s.Builder]
		args := []string{"--root", filepath.Join(req.StateDir, filepath.Base(rt))}
		if filepath.Base(rt) == "crun" {
			args = append(args, "--cgroup-manager=disabled")
		}
		args = append(args, "run", "--bundle", req.Bundle, fmt.Sprintf("bench-bare-%d", i))
		start := time.Now()
		if err := command(ctx, nil, rt, args...); err != nil {
			return err
		}
		res.Samples[rt] = append(res.Samples[rt], time.Since(start))
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}
