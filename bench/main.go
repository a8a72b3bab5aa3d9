package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// config is the harness's command line.
type config struct {
	hush      string
	runs      int
	bareRuns  int
	jsonOut   string
	work      string
	keep      bool
	docker    string
	builders  string
	rootfsSh  string
	testdata  string
	skipBuild bool
	rootless  string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if os.Getenv(bareEnv) == "1" {
		err = bareChild(ctx)
	} else {
		err = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.hush, "hush", "bin/hush", "hush binary to benchmark")
	fs.IntVar(&c.runs, "n", 7, "timed runs per builder, Dockerfile and mode")
	fs.IntVar(&c.bareRuns, "bare-n", 0, "timed bare runtime starts per runtime (default max(3n, 21))")
	fs.StringVar(&c.jsonOut, "json", "", "also write the figures as JSON to this file")
	fs.StringVar(&c.work, "work", "", "scratch directory (default: a new one under /var/tmp, removed at the end)")
	fs.BoolVar(&c.keep, "keep", false, "keep the scratch directory")
	fs.StringVar(&c.docker, "docker", "", "docker CLI to use for BuildKit (default: the first that can)")
	fs.StringVar(&c.builders, "builders", "hush,buildkit,buildah", "builders to compare, when present")
	fs.StringVar(&c.rootfsSh, "rootfs-script", "scripts/busybox-rootfs.sh", "script writing the busybox rootfs tar")
	fs.StringVar(&c.testdata, "testdata", "bench/testdata", "directory of the benchmark Dockerfiles")
	fs.BoolVar(&c.skipBuild, "only-per-run", false, "measure only the per-RUN overhead")
	fs.StringVar(&c.rootless, "rootless-user", "", "also run hush rootless as this ordinary user (hush-rootless), compared with rootful hush")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.runs < 1 {
		return c, fmt.Errorf("-n %d: want at least 1", c.runs)
	}
	if c.bareRuns == 0 {
		c.bareRuns = max(3*c.runs, 21)
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("bench needs root: hush mounts overlayfs and runs an OCI runtime")
	}
	if c.hush, err = filepath.Abs(c.hush); err != nil {
		return fmt.Errorf("resolving -hush: %w", err)
	}
	if c.testdata, err = filepath.Abs(c.testdata); err != nil {
		return fmt.Errorf("resolving -testdata: %w", err)
	}
	if c.work == "" {
		if c.work, err = os.MkdirTemp("/var/tmp", "hush-bench-"); err != nil {
			return fmt.Errorf("creating scratch dir: %w", err)
		}
		if !c.keep {
			defer os.RemoveAll(c.work)
		}
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", a...) }

	baseTar := filepath.Join(c.work, "busybox.tar")
	if err := command(ctx, nil, c.rootfsSh, baseTar); err != nil {
		return fmt.Errorf("making the busybox base: %w", err)
	}
	ctxDir, emptyDir := filepath.Join(c.work, "context"), filepath.Join(c.work, "empty")
	size, err := generateContext(ctxDir, defaultContext)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(emptyDir, 0o755); err != nil {
		return fmt.Errorf("creating empty context: %w", err)
	}
	logf("context: %d small files + %d×%d B, %.1f MB", defaultContext.SmallFiles, defaultContext.BigFiles, defaultContext.BigSize, float64(size)/1e6)

	builders := detectBuilders(ctx, c, logf)
	perRunBuilders := append([]builder{newHush("hush-runc", c.hush, "runc", c.work)}, builders...)
	for _, b := range perRunBuilders {
		logf("setting up %s", b.Name())
		if err := b.Setup(ctx, baseTar); err != nil {
			return fmt.Errorf("setting up %s: %w", b.Name(), err)
		}
	}
	df := func(name string) string { return filepath.Join(c.testdata, name, "Dockerfile") }
	defer cleanup(ctx, perRunBuilders, logf)
	res := results{Runs: c.runs, Machine: machine(ctx)}
	for _, b := range builders {
		res.Builders = append(res.Builders, b.Name())
	}
	if !c.skipBuild {
		for _, j := range []job{
			{Name: "cold10", Dockerfile: df("cold10"), Context: ctxDir},
			{Name: "multistage", Dockerfile: df("multistage"), Context: ctxDir},
		} {
			for _, cold := range []bool{true, false} {
				s, err := timeSeries(ctx, builders, j, cold, c.runs, logf)
				if err != nil {
					return err
				}
				res.Series = append(res.Series, s...)
			}
		}
	}
	for _, j := range []job{
		{Name: runStepsCase, Dockerfile: df(runStepsCase), Context: emptyDir},
		{Name: noRunCase, Dockerfile: df(noRunCase), Context: emptyDir},
	} {
		s, err := timeSeries(ctx, perRunBuilders, j, true, c.runs, logf)
		if err != nil {
			return err
		}
		res.Series = append(res.Series, s...)
	}
	bare, err := bareSeries(ctx, c, baseTar, logf)
	if err != nil {
		return err
	}
	res.Series = append(res.Series, bare...)
	res.Machine["loadavg_end"] = loadavg()
	res.analyze()
	if err := res.writeTable(stdout); err != nil {
		return err
	}
	if c.jsonOut != "" {
		if err := res.writeJSON(c.jsonOut); err != nil {
			return err
		}
	}
	return nil
}

// cleanup removes the bench-* images that builders keep outside the scratch directory.
// The busybox base stays: other work on the machine may use it.
func cleanup(ctx context.Context, bs []builder, logf func(string, ...any)) {
	var tags []string
	for _, n := range []string{"cold10", "multistage", runStepsCase, noRunCase} {
		tags = append(tags, job{Name: n}.tag())
	}
	for _, b := range bs {
		if c, ok := b.(cleaner); ok {
			if err := c.Cleanup(context.WithoutCancel(ctx), tags); err != nil {
				logf("cleaning up %s: %v", b.Name(), err)
			}
		}
	}
}

// detectBuilders returns hush and every other builder in -builders that works here.
func detectBuilders(ctx context.Context, c config, logf func(string, ...any)) []builder {
	want := map[string]bool{}
	for _, n := range strings.Split(c.builders, ",") {
		want[strings.TrimSpace(n)] = true
	}
	bs := []builder{newHush("hush", c.hush, "", c.work)}
	if c.rootless != "" {
		if u, err := lookupRootlessUser(c.rootless); err != nil {
			logf("skipping rootless hush: %v", err)
		} else {
			h := newHush(rootlessBuilder, c.hush, "", c.work)
			h.user = u
			bs = append(bs, h)
		}
	}
	if want["buildkit"] {
		probe := filepath.Join(c.work, "probe")
		if err := os.MkdirAll(probe, 0o755); err != nil {
			logf("skipping BuildKit: %v", err)
		} else if bin, why := findBuildKit(ctx, c.docker, probe); bin != "" {
			logf("BuildKit via %s", bin)
			bs = append(bs, &buildkit{bin: bin})
		} else {
			logf("skipping BuildKit: %s", strings.Join(append(why, "no usable docker CLI"), "; "))
		}
	}
	if want["buildah"] {
		if bin, err := exec.LookPath("buildah"); err == nil {
			bs = append(bs, &buildah{bin: bin})
		} else {
			logf("skipping buildah: not installed (apt-get install -y buildah)")
		}
	}
	return bs
}

// timeSeries times n builds of j with each builder, alternating builders run by run.
// Cold runs reset the builder first; cached runs follow one untimed warm-up build.
func timeSeries(ctx context.Context, bs []builder, j job, cold bool, n int, logf func(string, ...any)) ([]series, error) {
	mode := modeCached
	if cold {
		mode = modeCold
	} else {
		for _, b := range bs {
			if err := b.Build(ctx, j, false); err != nil {
				return nil, fmt.Errorf("warming %s for %s: %w", b.Name(), j.Name, err)
			}
		}
	}
	out := make([]series, len(bs))
	for i, b := range bs {
		out[i] = series{Case: j.Name, Mode: mode, Builder: b.Name()}
	}
	for _, s := range alternate(len(bs), n) {
		b := bs[s.Builder]
		if cold {
			if err := b.Reset(ctx); err != nil {
				return nil, err
			}
		}
		start := time.Now()
		if err := b.Build(ctx, j, cold); err != nil {
			return nil, fmt.Errorf("building %s with %s (%s): %w", j.Name, b.Name(), mode, err)
		}
		d := time.Since(start)
		out[s.Builder].Samples = append(out[s.Builder].Samples, d)
		logf("%-10s %-6s %-9s run %d: %v", j.Name, mode, b.Name(), s.Run+1, d.Round(time.Millisecond))
	}
	for i := range out {
		out[i].summary = summarize(out[i].Samples)
	}
	return out, nil
}

// bareSeries times bare starts of `true` with crun and runc, whichever are installed.
func bareSeries(ctx context.Context, c config, baseTar string, logf func(string, ...any)) ([]series, error) {
	var rts []string
	for _, n := range []string{"crun", "runc"} {
		if p, err := exec.LookPath(n); err == nil {
			rts = append(rts, p)
		}
	}
	if len(rts) == 0 {
		logf("skipping bare runtime starts: neither crun nor runc is installed")
		return nil, nil
	}
	bundle := filepath.Join(c.work, "bundle")
	if err := prepareBundle(ctx, rts[0], baseTar, bundle); err != nil {
		return nil, err
	}
	logf("timing %d bare starts of `true` with %d runtime(s)", c.bareRuns, len(rts))
	r, err := measureBare(ctx, bareRequest{Runtimes: rts, Bundle: bundle, StateDir: filepath.Join(c.work, "bare-state"), Runs: c.bareRuns})
	if err != nil {
		return nil, err
	}
	var out []series
	for _, rt := range rts {
		s := series{Case: "true", Mode: modeBare, Builder: filepath.Base(rt), Samples: r.Samples[rt]}
		s.summary = summarize(s.Samples)
		out = append(out, s)
	}
	return out, nil
}
