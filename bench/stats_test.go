package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const ms1 = time.Millisecond

func TestSummarize(t *testing.T) {
	tests := []struct {
		name    string
		samples []time.Duration
		want    summary
	}{
		{"empty", nil, summary{}},
		{"one", []time.Duration{5 * ms1}, summary{N: 1, Median: 5 * ms1, Min: 5 * ms1, Max: 5 * ms1}},
		{"odd unsorted", []time.Duration{9 * ms1, 1 * ms1, 5 * ms1}, summary{N: 3, Median: 5 * ms1, Min: 1 * ms1, Max: 9 * ms1}},
		{"even takes mean of middle two", []time.Duration{4 * ms1, 1 * ms1, 10 * ms1, 2 * ms1}, summary{N: 4, Median: 3 * ms1, Min: 1 * ms1, Max: 10 * ms1}},
		{"outlier does not move median", []time.Duration{10 * ms1, 11 * ms1, 12 * ms1, 13 * ms1, 900 * ms1}, summary{N: 5, Median: 12 * ms1, Min: 10 * ms1, Max: 900 * ms1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.samples)
			if got := summarize(tt.samples); got != tt.want {
				t.Errorf("summarize(%v) = %+v, want %+v", tt.samples, got, tt.want)
			}
			if !slices.Equal(in, tt.samples) {
				t.Errorf("summarize reordered its input: %v, was %v", tt.samples, in)
			}
		})
	}
}

func TestRatioAndPerStep(t *testing.T) {
	tests := []struct {
		name           string
		a, b           time.Duration
		wantRatio      float64
		steps          int
		wantPerStepA_B time.Duration
	}{
		{"half", 50 * ms1, 100 * ms1, 0.5, 10, -5 * ms1},
		{"slower", 300 * ms1, 100 * ms1, 3, 20, 10 * ms1},
		{"no reference", 10 * ms1, 0, math.NaN(), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ratio(tt.a, tt.b)
			if math.IsNaN(tt.wantRatio) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-tt.wantRatio) > 1e-9) {
				t.Errorf("ratio(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.wantRatio)
			}
			if got := perStep(tt.a, tt.b, tt.steps); got != tt.wantPerStepA_B {
				t.Errorf("perStep(%v, %v, %d) = %v, want %v", tt.a, tt.b, tt.steps, got, tt.wantPerStepA_B)
			}
		})
	}
}

func TestAlternate(t *testing.T) {
	tests := []struct {
		name        string
		builders, n int
		want        []slot
	}{
		{"none", 0, 3, nil},
		{"no runs", 3, 0, nil},
		{"one builder", 1, 3, []slot{{0, 0}, {0, 1}, {0, 2}}},
		{"A B C A B C", 3, 2, []slot{{0, 0}, {1, 0}, {2, 0}, {0, 1}, {1, 1}, {2, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := alternate(tt.builders, tt.n)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("alternate(%d, %d) = %v, want %v", tt.builders, tt.n, got, tt.want)
			}
			// No builder ever runs twice in a row when there are several.
			for i := 1; i < len(got) && tt.builders > 1; i++ {
				if got[i].Builder == got[i-1].Builder {
					t.Errorf("builder %d runs twice in a row at %d", got[i].Builder, i)
				}
			}
		})
	}
}

// series of fixed medians, as the harness would have measured them.
func fixedSeries(c, mode, builder string, median time.Duration) series {
	s := series{Case: c, Mode: mode, Builder: builder, Samples: []time.Duration{median}}
	s.summary = summarize(s.Samples)
	return s
}

func TestAnalyze(t *testing.T) {
	r := results{Runs: 1, Series: []series{
		fixedSeries("cold10", modeCold, "hush", 400*ms1),
		fixedSeries("cold10", modeCold, "buildkit", 1000*ms1),
		fixedSeries("cold10", modeCold, "buildah", 3000*ms1),
		fixedSeries("cold10", modeCached, "hush", 30*ms1),
		fixedSeries("cold10", modeCached, "buildkit", 100*ms1),
		fixedSeries(runStepsCase, modeCold, "hush", 420*ms1),
		fixedSeries(noRunCase, modeCold, "hush", 20*ms1),
		fixedSeries(runStepsCase, modeCold, "hush-runc", 1020*ms1),
		fixedSeries(noRunCase, modeCold, "hush-runc", 20*ms1),
		fixedSeries(runStepsCase, modeCold, "buildkit", 2000*ms1),
		fixedSeries(noRunCase, modeCold, "buildkit", 200*ms1),
		fixedSeries("true", modeBare, "crun", 10*ms1),
		fixedSeries("true", modeBare, "runc", 40*ms1),
	}}
	r.analyze()
	wantRatios := []ratioRow{
		{Case: "cold10", Mode: modeCold, Builder: "hush", Ratio: 0.4, Target: 0.5},
		{Case: "cold10", Mode: modeCold, Builder: "buildah", Ratio: 3},
		{Case: "cold10", Mode: modeCached, Builder: "hush", Ratio: 0.3, Target: 0.2},
	}
	if len(r.Ratios) != len(wantRatios) {
		t.Fatalf("ratios = %+v, want %+v", r.Ratios, wantRatios)
	}
	for i, w := range wantRatios {
		g := r.Ratios[i]
		if g.Case != w.Case || g.Mode != w.Mode || g.Builder != w.Builder || math.Abs(g.Ratio-w.Ratio) > 1e-9 || g.Target != w.Target {
			t.Errorf("ratio %d = %+v, want %+v", i, g, w)
		}
	}
	wantPerRun := []perRunRow{
		{Builder: "hush", PerRun: 20 * ms1, Bare: "crun", BareMed: 10 * ms1, Ratio: 2, Target: 1.5},
		{Builder: "hush-runc", PerRun: 50 * ms1, Bare: "runc", BareMed: 40 * ms1, Ratio: 1.25, Target: 1.5},
		{Builder: "buildkit", PerRun: 90 * ms1, Bare: "crun", BareMed: 10 * ms1, Ratio: 9},
	}
	if !slices.Equal(r.PerRun, wantPerRun) {
		t.Errorf("per-RUN = %+v, want %+v", r.PerRun, wantPerRun)
	}

	var table bytes.Buffer
	if err := r.writeTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"0.40×", "met (≤ 0.5×)", "MISSED (> 0.2×)", "crun 10.0", "2.00×"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}

	path := filepath.Join(t.TempDir(), "bench.json")
	if err := r.writeJSON(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back results
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatalf("JSON does not parse back: %v", err)
	}
	if len(back.Series) != len(r.Series) || back.Series[0].Median != 400*ms1 || back.PerRun[0].PerRun != 20*ms1 {
		t.Errorf("JSON round trip lost figures: %+v", back)
	}
}

func TestGenerateContext(t *testing.T) {
	shape := contextShape{SmallFiles: 250, SmallMax: 64, BigFiles: 2, BigSize: 4096}
	var trees [2]map[string]int64
	for i := range trees {
		dir := t.TempDir()
		total, err := generateContext(dir, shape)
		if err != nil {
			t.Fatal(err)
		}
		trees[i] = map[string]int64{}
		var sum int64
		err = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.Mode().IsRegular() {
				rel, _ := filepath.Rel(dir, p)
				trees[i][rel] = fi.Size()
				sum += fi.Size()
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(trees[i]) != shape.SmallFiles+shape.BigFiles || sum != total {
			t.Fatalf("generated %d files, %d bytes (reported %d); want %d files", len(trees[i]), sum, total, shape.SmallFiles+shape.BigFiles)
		}
	}
	for p, n := range trees[0] {
		if trees[1][p] != n {
			t.Errorf("context is not deterministic: %s has %d then %d bytes", p, n, trees[1][p])
		}
	}
	if trees[0][filepath.Join("big", "blob1.bin")] != 4096 || trees[0][filepath.Join("small", "d02", "f0249.txt")] == 0 {
		t.Errorf("unexpected layout: %v", trees[0])
	}
}

// run0 must be run20 minus its RUN lines, or (run20 − run0)/20 is not the cost of a RUN.
func TestPerRunDockerfiles(t *testing.T) {
	read := func(c string) []string {
		raw, err := os.ReadFile(filepath.Join("testdata", c, "Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, l := range strings.Split(string(raw), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
		return lines
	}
	with, without := read(runStepsCase), read(noRunCase)
	var runs int
	rest := slices.DeleteFunc(slices.Clone(with), func(l string) bool {
		if strings.HasPrefix(l, "RUN ") {
			runs++
			return true
		}
		return false
	})
	if runs != runSteps {
		t.Errorf("%s has %d RUN steps, want %d", runStepsCase, runs, runSteps)
	}
	if !slices.Equal(rest, without) {
		t.Errorf("%s without RUN = %q, but %s = %q", runStepsCase, rest, noRunCase, without)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args     []string
		wantErr  bool
		wantRuns int
		wantBare int
	}{
		{nil, false, 7, 21},
		{[]string{"-n", "10"}, false, 10, 30},
		{[]string{"-n", "3", "-bare-n", "5"}, false, 3, 5},
		{[]string{"-n", "0"}, true, 0, 0},
		{[]string{"extra"}, true, 0, 0},
		{[]string{"-skip", "audit,bigctx"}, false, 7, 21},
		{[]string{"-skip", "everything"}, true, 0, 0},
	}
	for _, tt := range tests {
		c, err := parseFlags(tt.args, &bytes.Buffer{})
		if (err != nil) != tt.wantErr {
			t.Errorf("parseFlags(%q) error = %v, want error %v", tt.args, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && (c.runs != tt.wantRuns || c.bareRuns != tt.wantBare) {
			t.Errorf("parseFlags(%q) = runs %d bare %d, want %d %d", tt.args, c.runs, c.bareRuns, tt.wantRuns, tt.wantBare)
		}
	}
}

// TestRootlessRatios: rootless hush's medians are compared with rootful hush's, per case
// and mode and per RUN step, against the 1.3× goal.
func TestRootlessRatios(t *testing.T) {
	ms1 := time.Millisecond
	r := results{Series: []series{
		fixedSeries("cold10", modeCold, "hush", 1000*ms1),
		fixedSeries("cold10", modeCold, rootlessBuilder, 1200*ms1),
		fixedSeries("cold10", modeCached, "hush", 100*ms1),
		fixedSeries("cold10", modeCached, rootlessBuilder, 150*ms1),
		fixedSeries(runStepsCase, modeCold, "hush", 500*ms1),
		fixedSeries(noRunCase, modeCold, "hush", 100*ms1),
		fixedSeries(runStepsCase, modeCold, rootlessBuilder, 600*ms1),
		fixedSeries(noRunCase, modeCold, rootlessBuilder, 100*ms1),
	}}
	r.analyze()
	want := []rootlessRow{
		{Case: "cold10", Mode: modeCold, Ratio: 1.2, Target: 1.3},
		{Case: "cold10", Mode: modeCached, Ratio: 1.5, Target: 1.3},
		{Case: "per-run", Mode: modeCold, Ratio: 1.25, Target: 1.3},
	}
	if len(r.Rootless) != len(want) {
		t.Fatalf("rootless rows = %+v, want %+v", r.Rootless, want)
	}
	for i, w := range want {
		if g := r.Rootless[i]; g.Case != w.Case || g.Mode != w.Mode || math.Abs(g.Ratio-w.Ratio) > 1e-9 || g.Target != w.Target {
			t.Errorf("row %d = %+v, want %+v", i, g, w)
		}
	}
	var table bytes.Buffer
	if err := r.writeTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"ROOTLESS / ROOTFUL", "1.20×", "MISSED (> 1.3×)"} {
		if !strings.Contains(table.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, table.String())
		}
	}
}
