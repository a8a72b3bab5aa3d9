package progress

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestRawJSON: rawjson mode writes one BuildKit SolveStatus object a line: a vertex when a
// step starts and when it completes (cached, or with its error), each output line as a
// base64 log of that vertex, warnings; nothing else.
func TestRawJSON(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d, err := New(&out, ModeRawJSON, WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	a := d.Start("[1/2] FROM busybox")
	a.Cached()
	b := d.Start("[2/2] RUN make")
	b.Write([]byte("compiling\npartial"))
	d.Warn("a warning")
	b.Done(errors.New("exit code: 2"))
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		got = append(got, m)
	}
	if len(got) != 7 {
		t.Fatalf("%d lines, want 7 (2 starts, cached, 2 logs, warning, error; none at Close):\n%s", len(got), out.String())
	}
	v := func(i int) map[string]any { return got[i]["vertexes"].([]any)[0].(map[string]any) }
	if v(0)["name"] != "[1/2] FROM busybox" || v(0)["completed"] != nil || v(1)["cached"] != true {
		t.Errorf("first step: %v then %v", got[0], got[1])
	}
	log := got[3]["logs"].([]any)[0].(map[string]any)
	if log["data"] != "Y29tcGlsaW5nCg==" || log["vertex"] != v(2)["digest"] || log["stream"] != float64(1) {
		t.Errorf("log %v, want base64 of \"compiling\\n\" for %v", log, v(2)["digest"])
	}
	if w := got[4]["warnings"].([]any)[0].(map[string]any); w["short"] != "YSB3YXJuaW5n" {
		t.Errorf("warning %v", w)
	}
	if last := v(6); last["error"] != "exit code: 2" || last["completed"] == nil {
		t.Errorf("failed step %v", last)
	}
	if strings.Contains(out.String(), "------") {
		t.Error("rawjson printed the plain error log at Close")
	}
}
