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
	"slices"
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
	skip      map[string]bool
	bigRuns   int
	compare   string // another hush binary timed as "hush-base" next to hush
}

// optional cases -skip can leave out.
var skippable = []string{"builds", "bigsecret", "bigctx", "audit", "perrun"}

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
	skip := fs.String("skip", "", "cases to leave out, comma-separated: "+strings.Join(skippable, ","))
	fs.IntVar(&c.bigRuns, "bigctx-n", 1, "timed runs of the 1 GiB context build")
	fs.StringVar(&c.compare, "compare", "", "another hush binary (an older build) to time as hush-base next to hush, alternated with the other builders")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.skip = map[string]bool{}
	for _, n := range strings.Split(*skip, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if !slices.Contains(skippable, n) {
			return c, fmt.Errorf("-skip %s: want some of %s", n, strings.Join(skippable, ","))
		}
		c.skip[n] = true
	}
	if c.skipBuild {
		for _, n := range []string{"builds", "bigsecret", "bigctx", "audit"} {
			c.skip[n] = true
		}
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
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", a...) }
	e, done, err := prepare(ctx, &c, logf)
	if err != nil {
		return err
	}
	defer done()
	res := results{Runs: c.runs, Machine: machine(ctx)}
	for _, b := range e.builders {
		res.Builders = append(res.Builders, b.Name())
	}
	for _, p := range e.plan(c) {
		s, err := timeSeries(ctx, p.builders, p.job, p.mode, c.runs, logf)
		if err != nil {
			return err
		}
		for i := range s {
			if i < len(p.modes) {
				s[i].Mode = p.modes[i]
			}
		}
		res.Series = append(res.Series, s...)
	}
	extras := []struct {
		skip string
		f    func() ([]series, error)
	}{
		{"bigctx", func() ([]series, error) { return bigContextSeries(ctx, c, e.builders[0], logf) }},
		{"audit", func() ([]series, error) { return auditSeries(ctx, c, e.shm, logf) }},
		{"perrun", func() ([]series, error) { return bareSeries(ctx, c, e.baseTar, logf) }},
	}
	for _, x := range extras {
		if c.skip[x.skip] {
			continue
		}
		s, err := x.f()
		if err != nil {
			return err
		}
		res.Series = append(res.Series, s...)
	}
	res.Machine["loadavg_end"] = loadavg()
	return finish(res, c, stdout)
}

// env is what the builds need: the base, the contexts, the builders and a tmpfs dir
// holding the benchmark's secret files.
type env struct {
	baseTar, ctxDir, emptyDir, shm string
	builders, perRunBuilders       []builder
	caSpec                         []string // --secret spec of a 256 KiB CA-bundle-like secret
	df                             func(name string) string
}

// prepare makes the env; done removes what it made.
func prepare(ctx context.Context, c *config, logf func(string, ...any)) (*env, func(), error) {
	var undo []func()
	done := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	fail := func(err error) (*env, func(), error) { done(); return nil, nil, err }
	var err error
	if c.hush, err = filepath.Abs(c.hush); err != nil {
		return fail(fmt.Errorf("resolving -hush: %w", err))
	}
	if c.compare != "" {
		if c.compare, err = filepath.Abs(c.compare); err != nil {
			return fail(fmt.Errorf("resolving -compare: %w", err))
		}
	}
	if c.testdata, err = filepath.Abs(c.testdata); err != nil {
		return fail(fmt.Errorf("resolving -testdata: %w", err))
	}
	if c.work == "" {
		if c.work, err = os.MkdirTemp("/var/tmp", "hush-bench-"); err != nil {
			return fail(fmt.Errorf("creating scratch dir: %w", err))
		}
		if w := c.work; !c.keep {
			undo = append(undo, func() { os.RemoveAll(w) })
		}
	}
	e := &env{baseTar: filepath.Join(c.work, "busybox.tar"), ctxDir: filepath.Join(c.work, "context"),
		emptyDir: filepath.Join(c.work, "empty"), df: func(name string) string { return filepath.Join(c.testdata, name, "Dockerfile") }}
	if err := command(ctx, nil, c.rootfsSh, e.baseTar); err != nil {
		return fail(fmt.Errorf("making the busybox base: %w", err))
	}
	size, err := generateContext(e.ctxDir, defaultContext)
	if err != nil {
		return fail(err)
	}
	if err := os.MkdirAll(e.emptyDir, 0o755); err != nil {
		return fail(fmt.Errorf("creating empty context: %w", err))
	}
	logf("context: %d small files + %d×%d B, %.1f MB", defaultContext.SmallFiles, defaultContext.BigFiles, defaultContext.BigSize, float64(size)/1e6)
	if e.shm, err = os.MkdirTemp("/dev/shm", "hush-bench-"); err != nil {
		return fail(fmt.Errorf("creating a tmpfs dir for the benchmark secrets: %w", err))
	}
	undo = append(undo, func() { os.RemoveAll(e.shm) })
	ca, err := writeSecret(e.shm, "ca.pem", pemLike(256<<10))
	if err != nil {
		return fail(err)
	}
	e.caSpec = []string{"id=ca,src=" + ca}
	e.builders = detectBuilders(ctx, *c, logf)
	e.perRunBuilders = append([]builder{newHush("hush-runc", c.hush, "runc", c.work)}, e.builders...)
	for _, b := range e.perRunBuilders {
		logf("setting up %s", b.Name())
		if err := b.Setup(ctx, e.baseTar); err != nil {
			return fail(fmt.Errorf("setting up %s: %w", b.Name(), err))
		}
	}
	undo = append(undo, func() { cleanup(ctx, e.perRunBuilders, logf) })
	return e, done, nil
}

// plan lists the builder series to time, in order.
func (e *env) plan(c config) []planned {
	var plan []planned
	if !c.skip["builds"] {
		for _, j := range []job{
			{Name: "cold10", Dockerfile: e.df("cold10"), Context: e.ctxDir},
			{Name: "multistage", Dockerfile: e.df("multistage"), Context: e.ctxDir},
		} {
			plan = append(plan, planned{e.builders, j, modeCold, nil}, planned{e.builders, j, modeCached, nil})
		}
		// Each hush alternates cached rebuilds without and with a secret, run by run.
		for _, b := range e.builders {
			if isHush(b.Name()) {
				pair := []builder{b, withSecrets{b, e.caSpec}}
				j := job{Name: "cold10", Dockerfile: e.df("cold10"), Context: e.ctxDir}
				plan = append(plan, planned{pair, j, modeCached, []string{modeNoSecret, modeSecret}})
			}
		}
	}
	if !c.skip["bigsecret"] {
		j := job{Name: bigSecretCase, Dockerfile: e.df(bigSecretCase), Context: e.emptyDir, Secrets: e.caSpec}
		plan = append(plan, planned{e.builders, j, modeCold, nil}, planned{e.builders, j, modeCached, nil})
	}
	if !c.skip["perrun"] {
		for _, n := range []string{runStepsCase, noRunCase} {
			plan = append(plan, planned{e.perRunBuilders, job{Name: n, Dockerfile: e.df(n), Context: e.emptyDir}, modeCold, nil})
		}
	}
	return plan
}

// planned is one series to time; modes, when set, renames each builder's series.
type planned struct {
	builders []builder
	job      job
	mode     string
	modes    []string
}

// withSecrets is a builder given more --secret specs on every build, so that one series
// can alternate a builder with and without them.
type withSecrets struct {
	builder
	secrets []string
}

func (w withSecrets) Build(ctx context.Context, j job, cold bool) error {
	j.Secrets = append(append([]string(nil), j.Secrets...), w.secrets...)
	return w.builder.Build(ctx, j, cold)
}

func (w withSecrets) lastPeakRSS() int64 {
	if r, ok := w.builder.(rssReporter); ok {
		return r.lastPeakRSS()
	}
	return 0
}

// finish analyses the series and prints (and with -json writes) the results.
func finish(res results, c config, stdout io.Writer) error {
	res.analyze()
	if err := res.writeTable(stdout); err != nil {
		return err
	}
	if c.jsonOut != "" {
		return res.writeJSON(c.jsonOut)
	}
	return nil
}

// cleanup removes the bench-* images that builders keep outside the scratch directory.
// The busybox base stays: other work on the machine may use it.
func cleanup(ctx context.Context, bs []builder, logf func(string, ...any)) {
	var tags []string
	for _, n := range []string{"cold10", "multistage", bigSecretCase, runStepsCase, noRunCase} {
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
	if c.compare != "" {
		bs = append(bs, newHush("hush-base", c.compare, "", c.work))
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

// timeSeries times n builds of j with each builder, alternating builders run by run, each
// run starting once the page cache's dirty pages are written back (settle). Cold runs
// reset the builder first; cached runs (modeCached, modeSecret) follow one untimed
// warm-up build.
func timeSeries(ctx context.Context, bs []builder, j job, mode string, n int, logf func(string, ...any)) ([]series, error) {
	cold := mode == modeCold
	if !cold {
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
		settle(ctx, 20*time.Second)
		start := time.Now()
		if err := b.Build(ctx, j, cold); err != nil {
			return nil, fmt.Errorf("building %s with %s (%s): %w", j.Name, b.Name(), mode, err)
		}
		d := time.Since(start)
		out[s.Builder].Samples = append(out[s.Builder].Samples, d)
		if r, ok := b.(rssReporter); ok {
			out[s.Builder].PeakRSS = max(out[s.Builder].PeakRSS, r.lastPeakRSS())
		}
		logf("%-10s %-13s %-9s run %d: %v", j.Name, mode, b.Name(), s.Run+1, d.Round(time.Millisecond))
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
