package main

import (
	"fmt"
	"math"
)

// Modes and cases beyond the builder comparison.
const (
	modeSecret   = "cached+secret" // a fully cached rebuild given one more (unused) secret
	modeNoSecret = "cached-paired" // the same rebuild without it, alternated run by run
	modeAudit    = "audit"         // `hush audit` of the benchmark image, or its baseline

	bigCtxCase    = "bigctx"    // a 1 GiB context
	bigSecretCase = "bigsecret" // a build mounting a 256 KiB secret (a CA bundle's size)

	auditSmall    = "audit-1x32B"
	auditOne2K    = "audit-1x2KiB"
	auditMany2K   = "audit-100x2KiB"
	auditBig      = "audit-1x16MiB"
	auditBaseline = "audit-baseline" // gzip -dc | grep -F over the same layers
	baselineName  = "gzip|grep"
)

// goalRow is one of issue 13's goals with what this run measured.
type goalRow struct {
	Goal     string  `json:"goal"`
	Measured string  `json:"measured"`
	Target   string  `json:"target"`
	Value    float64 `json:"value"`
	Limit    float64 `json:"limit"`
	// Met is nil when the figures the goal needs were not measured.
	Met *bool `json:"met,omitempty"`
}

func (g goalRow) verdict() string {
	switch {
	case g.Met == nil:
		return "not measured"
	case *g.Met:
		return "met"
	}
	return "MISSED"
}

// spread is max/min of a series: how far apart its runs were.
func spread(s series) float64 {
	if s.Min <= 0 {
		return math.NaN()
	}
	return float64(s.Max) / float64(s.Min)
}

// goals evaluates every goal against the series; a goal whose series are missing is
// listed as not measured.
func (r *results) goals() []goalRow {
	var out []goalRow
	ratioGoal := func(goal string, a, b series, okA, okB bool, limit float64, strict bool) {
		row := goalRow{Goal: goal, Target: fmt.Sprintf("≤ %.2g×", limit), Limit: limit}
		if strict {
			row.Target = fmt.Sprintf("< %.2g×", limit)
		}
		if okA && okB {
			row.Value = ratio(a.Median, b.Median)
			row.Measured = fmt.Sprintf("%.2f× (%s / %s ms)", row.Value, ms(a.Median), ms(b.Median))
			met := row.Value <= limit && !math.IsNaN(row.Value)
			row.Met = &met
		}
		out = append(out, row)
	}
	vsBuildKit := func(c, mode string, limit float64) {
		h, okH := r.find(c, mode, "hush")
		k, okK := r.find(c, mode, reference)
		ratioGoal(fmt.Sprintf("%s %s: hush vs BuildKit (median)", c, mode), h, k, okH, okK, limit, false)
	}
	spreadGoal := func(c, mode string, limit float64) {
		row := goalRow{Goal: fmt.Sprintf("%s %s: hush spread (max/min)", c, mode), Target: fmt.Sprintf("< %.2g×", limit), Limit: limit}
		if s, ok := r.find(c, mode, "hush"); ok && s.N > 1 {
			row.Value = spread(s)
			row.Measured = fmt.Sprintf("%.2f× (%s–%s ms)", row.Value, ms(s.Min), ms(s.Max))
			met := row.Value < limit
			row.Met = &met
		}
		out = append(out, row)
	}
	rssGoal := func(goal, c, mode, builder string, limitMiB float64) {
		row := goalRow{Goal: goal, Target: fmt.Sprintf("< %.0f MiB", limitMiB), Limit: limitMiB}
		if s, ok := r.find(c, mode, builder); ok && s.PeakRSS > 0 {
			row.Value = float64(s.PeakRSS) / 1024
			row.Measured = fmt.Sprintf("%.0f MiB", row.Value)
			met := row.Value < limitMiB
			row.Met = &met
		}
		out = append(out, row)
	}
	vsBuildKit("cold10", modeCold, 0.5)
	spreadGoal("cold10", modeCold, 1.5)
	vsBuildKit("multistage", modeCold, 0.5)
	spreadGoal("multistage", modeCold, 1.5)
	vsBuildKit("cold10", modeCached, 0.2)
	for _, p := range r.PerRun {
		if p.Builder == "hush" {
			met := p.Ratio <= targets["per-run"]
			out = append(out, goalRow{Goal: "per RUN step: hush vs a bare crun start", Target: fmt.Sprintf("≤ %.2g×", targets["per-run"]),
				Limit: targets["per-run"], Value: p.Ratio, Measured: fmt.Sprintf("%.2f× (%s / %s ms)", p.Ratio, ms(p.PerRun), ms(p.BareMed)), Met: &met})
		}
	}
	with, okW := r.find("cold10", modeSecret, "hush")
	without, okWo := r.find("cold10", modeNoSecret, "hush")
	ratioGoal("cold10 cached: with a 256 KiB secret vs without (hush)", with, without, okW, okWo, secretSlack, false)
	rssGoal("1 GiB context: hush's peak RSS", bigCtxCase, modeCold, "hush", 256)
	big, okB := r.find(auditBig, modeAudit, "hush")
	small, okS := r.find(auditSmall, modeAudit, "hush")
	ratioGoal("audit: one 16 MiB secret vs one 32-byte secret", big, small, okB, okS, 2, false)
	rssGoal("audit: peak RSS with one 16 MiB secret", auditBig, modeAudit, "hush", 512)
	many, okM := r.find(auditMany2K, modeAudit, "hush")
	one, okO := r.find(auditOne2K, modeAudit, "hush")
	ratioGoal("audit: 100 secrets of 2 KiB vs one", many, one, okM, okO, 2, false)
	base, okBase := r.find(auditBaseline, modeAudit, baselineName)
	ratioGoal("audit: one 32-byte secret vs gzip -dc | grep -F (same parallelism)", small, base, okS, okBase, 1, false)
	// The floor is a throughput per core: CPU time, which the machine's other load
	// shifts less than wall time (and which favours neither a pipeline of two processes
	// per layer nor one goroutine per layer).
	small.Median, base.Median = small.CPUMedian, base.CPUMedian
	ratioGoal("audit CPU: one 32-byte secret vs gzip -dc | grep -F", small, base, okS && small.Median > 0, okBase && base.Median > 0, 1, false)
	return out
}

// secretSlack is how much slower a cached rebuild with a secret may be than one without
// and still count as costing no more: run-to-run noise on a shared machine is larger.
const secretSlack = 1.1
