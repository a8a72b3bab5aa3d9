package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

const (
	modeCold   = "cold"
	modeCached = "cached"
	modeBare   = "bare"

	runStepsCase = "run20" // 20 × RUN true
	noRunCase    = "run0"  // the same Dockerfile without its RUN steps
	runSteps     = 20

	reference = "buildkit"
)

// series is every timing of one builder on one Dockerfile in one mode.
type series struct {
	Case    string          `json:"case"`
	Mode    string          `json:"mode"`
	Builder string          `json:"builder"`
	Samples []time.Duration `json:"samples_ns"`
	// PeakRSS is the largest peak RSS (KiB) of the builder's own process tree over the
	// runs, where the harness can see it (hush, `hush audit`, the audit baseline).
	PeakRSS int64 `json:"peak_rss_kib,omitempty"`
	// CPU is the CPU time (user + system) of each run's process tree, where the harness
	// can see it; on a shared machine it varies less than the wall time.
	CPU       []time.Duration `json:"cpu_ns,omitempty"`
	CPUMedian time.Duration   `json:"cpu_median_ns,omitempty"`
	summary
}

// ratioRow compares one builder's median with BuildKit's, against hush's target.
type ratioRow struct {
	Case    string  `json:"case"`
	Mode    string  `json:"mode"`
	Builder string  `json:"builder"`
	Ratio   float64 `json:"ratio_to_buildkit"`
	Target  float64 `json:"target,omitempty"`
}

// perRunRow is one builder's cost per RUN step next to a bare runtime start.
type perRunRow struct {
	Builder string        `json:"builder"`
	PerRun  time.Duration `json:"per_run_ns"`
	Bare    string        `json:"bare_runtime,omitempty"`
	BareMed time.Duration `json:"bare_median_ns,omitempty"`
	Ratio   float64       `json:"ratio_to_bare,omitempty"`
	Target  float64       `json:"target,omitempty"`
}

// results is everything one harness run measured.
type results struct {
	Machine  map[string]string `json:"machine"`
	Runs     int               `json:"runs"`
	Builders []string          `json:"builders"`
	Series   []series          `json:"series"`
	Ratios   []ratioRow        `json:"ratios"`
	PerRun   []perRunRow       `json:"per_run"`
	Rootless []rootlessRow     `json:"rootless_to_rootful,omitempty"`
	Goals    []goalRow         `json:"goals"`
}

// targets are hush's goals: a ratio to BuildKit per (case, mode), and to a bare start.
var targets = map[string]float64{
	"cold10/cold":   0.5,
	"cold10/cached": 0.2,
	"/cached":       0.2, // every fully cached rebuild
	"per-run":       1.5,
}

func target(c, mode string) float64 {
	if t, ok := targets[c+"/"+mode]; ok {
		return t
	}
	return targets["/"+mode]
}

// isHush reports whether a builder name is one of hush's variants (hush, hush-runc).
func isHush(builder string) bool { return builder == "hush" || strings.HasPrefix(builder, "hush-") }

func (r *results) find(c, mode, builder string) (series, bool) {
	for _, s := range r.Series {
		if s.Case == c && s.Mode == mode && s.Builder == builder {
			return s, true
		}
	}
	return series{}, false
}

// analyze derives the ratios to BuildKit and the per-RUN overheads from the series.
func (r *results) analyze() {
	r.Ratios, r.PerRun = nil, nil
	for _, s := range r.Series {
		if s.Builder == reference || s.Mode == modeBare || s.Mode == modeAudit || s.Case == runStepsCase || s.Case == noRunCase {
			continue
		}
		ref, ok := r.find(s.Case, s.Mode, reference)
		if !ok {
			continue
		}
		row := ratioRow{Case: s.Case, Mode: s.Mode, Builder: s.Builder, Ratio: ratio(s.Median, ref.Median)}
		if isHush(s.Builder) {
			row.Target = target(s.Case, s.Mode)
		}
		r.Ratios = append(r.Ratios, row)
	}
	for _, with := range r.Series {
		if with.Case != runStepsCase || with.Mode != modeCold {
			continue
		}
		without, ok := r.find(noRunCase, modeCold, with.Builder)
		if !ok {
			continue
		}
		row := perRunRow{Builder: with.Builder, PerRun: perStep(with.Median, without.Median, runSteps)}
		bare := "crun"
		if strings.HasSuffix(with.Builder, "-runc") {
			bare = "runc"
		}
		if b, ok := r.find("true", modeBare, bare); ok {
			row.Bare, row.BareMed = bare, b.Median
			row.Ratio = ratio(row.PerRun, b.Median)
			if isHush(with.Builder) {
				row.Target = targets["per-run"]
			}
		}
		r.PerRun = append(r.PerRun, row)
	}
	r.Rootless = r.rootlessRatios()
	r.Goals = r.goals()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

func verdict(ratio, target float64) string {
	switch {
	case target == 0 || math.IsNaN(ratio):
		return ""
	case ratio <= target:
		return fmt.Sprintf("met (≤ %.1f×)", target)
	default:
		return fmt.Sprintf("MISSED (> %.1f×)", target)
	}
}

// writeTable prints the figures as plain aligned text.
func (r *results) writeTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "hush bench: %d runs per builder, builders alternated, dirty pages synced before each run; times in ms; load average %s at start, %s at end\n\n",
		r.Runs, r.Machine["loadavg_start"], r.Machine["loadavg_end"])
	fmt.Fprintln(tw, "CASE\tMODE\tBUILDER\tMEDIAN\tMIN\tMAX\tSPREAD\tPEAK RSS\tN")
	for _, s := range r.Series {
		rss := "-"
		if s.PeakRSS > 0 {
			rss = fmt.Sprintf("%.0f MiB", float64(s.PeakRSS)/1024)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.2f×\t%s\t%d\n", s.Case, s.Mode, s.Builder, ms(s.Median), ms(s.Min), ms(s.Max), spread(s), rss, s.N)
	}
	if len(r.Ratios) > 0 {
		fmt.Fprintln(tw, "\nCASE\tMODE\tBUILDER\tRATIO TO BUILDKIT\tTARGET")
		for _, x := range r.Ratios {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f×\t%s\n", x.Case, x.Mode, x.Builder, x.Ratio, verdict(x.Ratio, x.Target))
		}
	}
	if len(r.PerRun) > 0 {
		fmt.Fprintf(tw, "\nBUILDER\tPER RUN (%s−%s)/%d\tBARE START\tRATIO\tTARGET\n", runStepsCase, noRunCase, runSteps)
		for _, p := range r.PerRun {
			bare, rat := "-", "-"
			if p.Bare != "" {
				bare = p.Bare + " " + ms(p.BareMed)
				rat = fmt.Sprintf("%.2f×", p.Ratio)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Builder, ms(p.PerRun), bare, rat, verdict(p.Ratio, p.Target))
		}
	}
	writeRootless(tw, r.Rootless)
	if len(r.Goals) > 0 {
		fmt.Fprintln(tw, "\nGOAL\tMEASURED\tTARGET\tVERDICT")
		for _, g := range r.Goals {
			m := g.Measured
			if m == "" {
				m = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", g.Goal, m, g.Target, g.verdict())
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing table: %w", err)
	}
	return nil
}

// writeJSON writes r to path. NaN ratios (no reference) are written as 0.
func (r *results) writeJSON(path string) error {
	c := *r
	c.Ratios = append([]ratioRow(nil), r.Ratios...)
	for i := range c.Ratios {
		if math.IsNaN(c.Ratios[i].Ratio) {
			c.Ratios[i].Ratio = 0
		}
	}
	c.PerRun = append([]perRunRow(nil), r.PerRun...)
	for i := range c.PerRun {
		if math.IsNaN(c.PerRun[i].Ratio) {
			c.PerRun[i].Ratio = 0
		}
	}
	c.Rootless = finiteRootless(r.Rootless)
	c.Goals = append([]goalRow(nil), r.Goals...)
	for i := range c.Goals {
		if math.IsNaN(c.Goals[i].Value) {
			c.Goals[i].Value = 0
		}
	}
	b, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding results: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing results: %w", err)
	}
	return nil
}

// machine describes where the figures come from.
func machine(ctx context.Context) map[string]string {
	m := map[string]string{"goos": runtime.GOOS, "goarch": runtime.GOARCH, "cpus": fmt.Sprint(runtime.NumCPU())}
	if out, err := output(ctx, nil, "uname", "-r"); err == nil {
		m["kernel"] = strings.TrimSpace(out)
	}
	m["loadavg_start"] = loadavg()
	for _, rt := range []string{"crun", "runc"} {
		if out, err := output(ctx, nil, rt, "--version"); err == nil {
			m[rt] = strings.SplitN(strings.TrimSpace(out), "\n", 2)[0]
		}
	}
	return m
}

// loadavg is the first three fields of /proc/loadavg: other work on the machine skews
// every figure, so the results record how busy it was.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}
