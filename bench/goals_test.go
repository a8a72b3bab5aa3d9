package main

import (
	"bufio"
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

func seriesOf(c, mode, builder string, rss int64, samples ...time.Duration) series {
	s := series{Case: c, Mode: mode, Builder: builder, Samples: samples, PeakRSS: rss}
	s.summary = summarize(samples)
	return s
}

// TestGoals: every goal of issue 13 gets a row with a verdict computed from the series,
// met or missed at its limit, and "not measured" when its series are missing.
func TestGoals(t *testing.T) {
	r := results{Series: []series{
		seriesOf("cold10", modeCold, "hush", 0, 400*ms1, 420*ms1, 500*ms1),
		seriesOf("cold10", modeCold, reference, 0, 1000*ms1),
		seriesOf("multistage", modeCold, "hush", 0, 300*ms1, 700*ms1, 900*ms1),
		seriesOf("multistage", modeCold, reference, 0, 1000*ms1),
		seriesOf("cold10", modeCached, "hush", 0, 30*ms1),
		seriesOf("cold10", modeCached, reference, 0, 100*ms1),
		seriesOf("cold10", modeSecret, "hush", 0, 32*ms1),
		seriesOf("cold10", modeNoSecret, "hush", 0, 30*ms1),
		seriesOf(bigCtxCase, modeCold, "hush", 300<<10, 9000*ms1),
		seriesOf(auditSmall, modeAudit, "hush", 40<<10, 500*ms1),
		seriesOf(auditBig, modeAudit, "hush", 200<<10, 900*ms1),
		seriesOf(auditOne2K, modeAudit, "hush", 40<<10, 500*ms1),
		seriesOf(auditMany2K, modeAudit, "hush", 50<<10, 1100*ms1),
	}}
	r.analyze()
	want := map[string]string{
		"cold10 cold: hush vs BuildKit (median)":                             "met",
		"cold10 cold: hush spread (max/min)":                                 "met",
		"multistage cold: hush vs BuildKit (median)":                         "MISSED",
		"multistage cold: hush spread (max/min)":                             "MISSED",
		"cold10 cached: hush vs BuildKit (median)":                           "MISSED",
		"cold10 cached: with a 256 KiB secret vs without (hush)":             "met",
		"1 GiB context: hush's peak RSS":                                     "MISSED",
		"audit: one 16 MiB secret vs one 32-byte secret":                     "met",
		"audit: peak RSS with one 16 MiB secret":                             "met",
		"audit: 100 secrets of 2 KiB vs one":                                 "MISSED",
		"audit: one 32-byte secret vs gzip -dc | grep -F (same parallelism)": "not measured",
		"audit CPU: one 32-byte secret vs gzip -dc | grep -F":                "not measured",
	}
	got := map[string]string{}
	for _, g := range r.Goals {
		got[g.Goal] = g.verdict()
	}
	for goal, v := range want {
		if got[goal] != v {
			t.Errorf("%s: %q, want %q", goal, got[goal], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("goals %v, want %d of them", got, len(want))
	}
	var table bytes.Buffer
	if err := r.writeTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"GOAL", "0.70× (700.0 / 1000.0 ms)", "3.00× (300.0–900.0 ms)", "300 MiB", "not measured", "SPREAD", "1.25×"} {
		if !strings.Contains(table.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, table.String())
		}
	}
}

func TestSpread(t *testing.T) {
	if got := spread(seriesOf("c", modeCold, "hush", 0, 100*ms1, 150*ms1)); got != 1.5 {
		t.Errorf("spread = %v, want 1.5", got)
	}
	if got := spread(series{}); !math.IsNaN(got) {
		t.Errorf("spread of nothing = %v, want NaN", got)
	}
}

func TestParseDirty(t *testing.T) {
	in := "MemTotal:       24684084 kB\nDirty:              3000 kB\nWriteback:           100 kB\nWritebackTmp:          7 kB\n"
	if got := parseDirty(bufio.NewScanner(strings.NewReader(in))); got != 3100<<10 {
		t.Errorf("parseDirty = %d, want %d", got, 3100<<10)
	}
}

// TestAuditSetsAndLeaks: each secret set has its planted copy (the single 2 KiB value as
// 76-column base64), the values differ between sets, and pemLike is PEM-shaped.
func TestAuditSetsAndLeaks(t *testing.T) {
	files := leakFiles()
	for _, s := range auditSets {
		found := false
		for name := range files {
			found = found || strings.HasPrefix(name, "leak/"+s.name+"/")
		}
		if !found {
			t.Errorf("no planted copy for %s", s.name)
		}
		if len(s.value(0)) != s.size || bytes.Equal(s.value(0), s.value(1)[:s.size]) {
			t.Errorf("%s: values not %d distinct bytes", s.name, s.size)
		}
	}
	b64 := files["leak/"+auditOne2K+"/b64.txt"]
	if lines := strings.Split(strings.TrimSpace(string(b64)), "\n"); len(lines) < 2 || len(lines[0]) != 76 {
		t.Errorf("base64 copy not in 76-column lines: %d lines, first %d", len(lines), len(lines[0]))
	}
	if p := pemLike(4096); !bytes.HasPrefix(p, []byte("-----BEGIN CERTIFICATE-----\n")) || len(p) < 4096 {
		t.Errorf("pemLike: %d bytes, %.40q", len(p), p)
	}
	if err := checkAuditReport(`{"findings":[{"secret":"s000","location":{"path":"/leak/`+auditBig+`/raw"}}]}`, auditSets[3]); err != nil {
		t.Errorf("report with the planted copy: %v", err)
	}
	if err := checkAuditReport(`{"findings":[]}`, auditSets[3]); err == nil {
		t.Error("a report without the planted copy passed")
	}
}

// TestWatchRSS: the watcher sees a child's own peak (a shell holding a 64 MiB string),
// not the harness's memory, and the tree walk finds grandchildren.
func TestWatchRSS(t *testing.T) {
	ballast := make([]byte, 256<<20) // the harness is big; the child must not look it
	for i := range ballast {
		ballast[i] = 1
	}
	_, rss, err := measured(t.Context(), nil, nil, "sh", "-c", `sh -c 'x=$(head -c 67108864 /dev/zero | tr "\0" a); sleep 0.2; echo ${#x}'`)
	if err != nil {
		t.Fatal(err)
	}
	if rss < 64<<10 || rss > 200<<10 {
		t.Errorf("peak RSS %d KiB, want about 64-130 MiB (the grandchild's string)", rss)
	}
	if ballast[len(ballast)-1] != 1 {
		t.Fatal("ballast")
	}
	if got := parseHWM([]byte("Name:\tx\nVmHWM:\t  1234 kB\nVmRSS:\t 99 kB\n")); got != 1234 {
		t.Errorf("parseHWM = %d", got)
	}
}
