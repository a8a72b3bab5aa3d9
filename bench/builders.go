package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// job is one Dockerfile built in one context directory.
type job struct {
	Name       string // also the image tag: bench-NAME:latest
	Dockerfile string
	Context    string
	// Secrets are --secret specs (id=ID,src=FILE) every builder is given.
	Secrets []string
}

// secretArgs is the --secret flags of j, as docker build, buildah bud and hush spell them.
func (j job) secretArgs() []string {
	var out []string
	for _, s := range j.Secrets {
		out = append(out, "--secret", s)
	}
	return out
}

func (j job) tag() string { return "bench-" + j.Name + ":latest" }

// builder is one image builder under test.
type builder interface {
	Name() string
	// Setup makes the busybox base (from baseTar) available as `busybox`, once.
	Setup(ctx context.Context, baseTar string) error
	// Reset drops every cache the builder keeps so that the next cold Build starts
	// from nothing. It runs outside the timing.
	Reset(ctx context.Context) error
	// Build builds j: without any cache when cold, else reusing what earlier builds left.
	Build(ctx context.Context, j job, cold bool) error
}

// cleaner is a builder that keeps images outside the scratch directory and can remove
// the ones the harness tagged, at the end of a run.
type cleaner interface {
	Cleanup(ctx context.Context, tags []string) error
}

var (
	_ cleaner = (*buildkit)(nil)
	_ cleaner = (*buildah)(nil)
	_ builder = (*hush)(nil)
	_ builder = (*buildkit)(nil)
	_ builder = (*buildah)(nil)
)

// command runs name with args and env added to the environment, and returns an error
// carrying the tail of its output when it fails.
func command(ctx context.Context, env []string, name string, args ...string) error {
	_, err := output(ctx, env, name, args...)
	return err
}

// output is command that also returns the standard output.
func output(ctx context.Context, env []string, name string, args ...string) (string, error) {
	out, _, err := measured(ctx, env, nil, name, args...)
	return out, err
}

// usage is what a process tree used: its peak RSS in KiB (the largest VmHWM of the
// process and its descendants while they ran, see rssWatcher) and its CPU time (user and
// system, of the process and the descendants it waited for).
type usage struct {
	rss int64
	cpu time.Duration
}

// measured runs name like output and also returns its peak RSS in KiB (see usage).
// okCodes are exit codes that are not failures.
func measured(ctx context.Context, env []string, okCodes []int, name string, args ...string) (string, int64, error) {
	out, u, err := measure(ctx, env, okCodes, name, args...)
	return out, u.rss, err
}

// measure runs name like output and returns what it used.
func measure(ctx context.Context, env []string, okCodes []int, name string, args ...string) (string, usage, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Start()
	var u usage
	if err == nil {
		w := watchRSS(cmd.Process.Pid)
		err = cmd.Wait()
		u.rss = w.Stop()
	}
	if ps := cmd.ProcessState; ps != nil {
		u.cpu = ps.UserTime() + ps.SystemTime()
		if err != nil && slices.Contains(okCodes, ps.ExitCode()) {
			err = nil
		}
	}
	if err != nil {
		return "", u, fmt.Errorf("running %s %s: %w\n%s", name, strings.Join(args, " "), err, tail(stdout.String()+stderr.String(), 2000))
	}
	return stdout.String(), u, nil
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// hush drives the hush binary. Cold builds get a fresh state directory with the base
// re-imported (in Reset) and --no-cache; cached builds share one long-lived directory.
type hush struct {
	name    string
	bin     string
	runtime string // "" for hush's default (crun when installed)
	work    string
	baseTar string
	user    *rootlessUser // set: hush runs rootless as this user
	peakRSS int64         // KiB, of the last Build's process tree
	resets  int           // cold state dirs set aside so far
}

// run runs hush with args on the state dir root, as the user when there is one, and
// returns the peak RSS of its process tree in KiB.
func (h *hush) run(ctx context.Context, root string, args ...string) (int64, error) {
	bin, env := h.bin, []string{"HUSH_ROOT=" + root}
	if h.user != nil {
		if err := h.user.own(root); err != nil {
			return 0, err
		}
		var uenv []string
		bin, args, uenv = h.user.command(filepath.Join(h.work, "home"), h.bin, args)
		env = append(env, uenv...)
	}
	_, rss, err := measured(ctx, env, nil, bin, args...)
	return rss, err
}

var _ rssReporter = (*hush)(nil)

// rssReporter is a builder whose own processes run the build, so their memory can be
// measured (BuildKit's daemon is not a child of the harness).
type rssReporter interface {
	lastPeakRSS() int64
}

func (h *hush) lastPeakRSS() int64 { return h.peakRSS }

func newHush(name, bin, runtime, work string) *hush {
	return &hush{name: name, bin: bin, runtime: runtime, work: filepath.Join(work, name)}
}

func (h *hush) Name() string { return h.name }

func (h *hush) coldRoot() string { return filepath.Join(h.work, "cold") }
func (h *hush) warmRoot() string { return filepath.Join(h.work, "warm") }

func (h *hush) Setup(ctx context.Context, baseTar string) error {
	h.baseTar = baseTar
	return h.importBase(ctx, h.warmRoot())
}

func (h *hush) importBase(ctx context.Context, root string) error {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fmt.Errorf("creating hush root: %w", err)
	}
	if _, err := h.run(ctx, root, "--root", root, "import", h.baseTar, "busybox:latest"); err != nil {
		return fmt.Errorf("importing busybox into hush: %w", err)
	}
	return nil
}

// Reset sets the last cold state dir aside (removed with the work dir at the end) rather
// than deleting it: ext4 without a journal (this machine class's root filesystem) skips
// inodes freed in the last seconds when it allocates new ones, so thousands of files
// deleted just before a timed run made that run's file creation scan past them (perf:
// find_inode_bit → recently_deleted; multistage cold ran 0.8–1.5 s instead of 0.5–0.7 s).
// No build deletes a whole state dir before it starts.
func (h *hush) Reset(ctx context.Context) error {
	if _, err := os.Lstat(h.coldRoot()); err == nil {
		trash := filepath.Join(h.work, "set-aside")
		if err := os.MkdirAll(trash, 0o700); err != nil {
			return fmt.Errorf("setting hush root aside: %w", err)
		}
		h.resets++
		if err := os.Rename(h.coldRoot(), filepath.Join(trash, strconv.Itoa(h.resets))); err != nil {
			return fmt.Errorf("setting hush root aside: %w", err)
		}
	}
	return h.importBase(ctx, h.coldRoot())
}

func (h *hush) Build(ctx context.Context, j job, cold bool) error {
	root := h.warmRoot()
	if cold {
		root = h.coldRoot()
	}
	args := []string{"--root", root, "build", "--progress=plain", "-t", j.tag(), "-f", j.Dockerfile}
	if cold {
		args = append(args, "--no-cache")
	}
	if h.runtime != "" {
		args = append(args, "--runtime", h.runtime)
	}
	if h.user != nil {
		if err := h.user.ownSecrets(j.Secrets); err != nil {
			return err
		}
	}
	args = append(append(args, j.secretArgs()...), j.Context)
	rss, err := h.run(ctx, root, args...)
	h.peakRSS = rss
	return err
}

// buildkit drives `docker build` with DOCKER_BUILDKIT=1 against the local engine.
// The engine here has no bridge network, so every build uses the host network, as
// hush's default does.
type buildkit struct{ bin string }

var buildkitEnv = []string{"DOCKER_BUILDKIT=1"}

// findBuildKit returns a docker CLI that reaches an engine and can build with
// BuildKit (a CLI with buildx, or one older than 23 with BuildKit built in), trying
// prefer first, then every docker on PATH and the Debian one. It returns "" and the
// reasons when none can.
func findBuildKit(ctx context.Context, prefer string, probeDir string) (string, []string) {
	var cands, why []string
	if prefer != "" {
		cands = append(cands, prefer)
	}
	if p, err := exec.LookPath("docker"); err == nil {
		cands = append(cands, p)
	}
	cands = append(cands, "/usr/bin/docker", "/usr/local/bin/docker")
	seen := map[string]bool{}
	df := filepath.Join(probeDir, "Dockerfile")
	if err := os.WriteFile(df, []byte("FROM scratch\nLABEL hush.bench=probe\n"), 0o644); err != nil {
		return "", []string{fmt.Sprintf("writing probe Dockerfile: %v", err)}
	}
	for _, c := range cands {
		if seen[c] {
			continue
		}
		seen[c] = true
		if _, err := os.Stat(c); err != nil && c != prefer {
			continue
		}
		if err := command(ctx, nil, c, "info"); err != nil {
			why = append(why, fmt.Sprintf("%s: docker info failed", c))
			continue
		}
		if err := command(ctx, buildkitEnv, c, "build", "-q", probeDir); err != nil {
			why = append(why, fmt.Sprintf("%s: cannot build with BuildKit (no buildx?)", c))
			continue
		}
		return c, why
	}
	return "", why
}

func (d *buildkit) Name() string { return "buildkit" }

func (d *buildkit) Setup(ctx context.Context, baseTar string) error {
	if err := command(ctx, nil, d.bin, "import", baseTar, "busybox:latest"); err != nil {
		return fmt.Errorf("importing busybox into docker: %w", err)
	}
	return nil
}

func (d *buildkit) Reset(ctx context.Context) error {
	if err := command(ctx, nil, d.bin, "builder", "prune", "-af"); err != nil {
		return fmt.Errorf("pruning BuildKit cache: %w", err)
	}
	outwaitDeletes(ctx)
	return nil
}

// deletedInodeWindow is how long ext4 without a journal keeps from reusing a freed inode
// whose inode table block is on disk (RECENTCY_MIN; 300 s while the block is dirty).
const deletedInodeWindow = 5 * time.Second

// outwaitDeletes writes back what a Reset deleted and waits until ext4 would reuse the
// freed inodes, so that the timed run after it does not pay for the Reset's deletions
// (see hush.Reset, which sets its state dir aside instead).
func outwaitDeletes(ctx context.Context) {
	syscall.Sync()
	select {
	case <-ctx.Done():
	case <-time.After(deletedInodeWindow + time.Second):
	}
}

func (d *buildkit) Build(ctx context.Context, j job, cold bool) error {
	args := []string{"build", "--progress=plain", "--network=host", "-t", j.tag(), "-f", j.Dockerfile}
	if cold {
		args = append(args, "--no-cache")
	}
	args = append(append(args, j.secretArgs()...), j.Context)
	return command(ctx, buildkitEnv, d.bin, args...)
}

func (d *buildkit) Cleanup(ctx context.Context, tags []string) error {
	if err := command(ctx, nil, d.bin, append([]string{"rmi", "-f"}, tags...)...); err != nil {
		return fmt.Errorf("removing docker images: %w", err)
	}
	return nil
}

// buildah drives `buildah bud` with chroot isolation (the default "oci" isolation
// fails on this host's hybrid cgroup layout) and --layers so that rebuilds can be cached.
type buildah struct{ bin string }

func (b *buildah) Name() string { return "buildah" }

func (b *buildah) Setup(ctx context.Context, baseTar string) error {
	ctr, err := output(ctx, nil, b.bin, "from", "scratch")
	if err != nil {
		return fmt.Errorf("creating buildah container: %w", err)
	}
	ctr = strings.TrimSpace(ctr)
	defer command(context.WithoutCancel(ctx), nil, b.bin, "rm", ctr)
	mnt, err := output(ctx, nil, b.bin, "mount", ctr)
	if err != nil {
		return fmt.Errorf("mounting buildah container: %w", err)
	}
	if err := command(ctx, nil, "tar", "-xf", baseTar, "-C", strings.TrimSpace(mnt)); err != nil {
		return fmt.Errorf("unpacking busybox for buildah: %w", err)
	}
	if err := command(ctx, nil, b.bin, "umount", ctr); err != nil {
		return fmt.Errorf("unmounting buildah container: %w", err)
	}
	if err := command(ctx, nil, b.bin, "commit", "-q", ctr, "busybox:latest"); err != nil {
		return fmt.Errorf("committing busybox in buildah: %w", err)
	}
	return nil
}

func (b *buildah) Reset(ctx context.Context) error {
	// --no-cache already ignores the layer cache; dropping leftover working
	// containers keeps storage from growing run after run.
	if err := command(ctx, nil, b.bin, "rm", "--all"); err != nil {
		return fmt.Errorf("removing buildah containers: %w", err)
	}
	return nil
}

func (b *buildah) Build(ctx context.Context, j job, cold bool) error {
	args := []string{"bud", "--isolation", "chroot", "--pull=never", "--network", "host", "--layers", "-q", "-t", j.tag(), "-f", j.Dockerfile}
	if cold {
		args = append(args, "--no-cache")
	}
	args = append(append(args, j.secretArgs()...), j.Context)
	return command(ctx, nil, b.bin, args...)
}

func (b *buildah) Cleanup(ctx context.Context, tags []string) error {
	if err := command(ctx, nil, b.bin, append([]string{"rmi", "-f"}, tags...)...); err != nil {
		return fmt.Errorf("removing buildah images: %w", err)
	}
	return nil
}
