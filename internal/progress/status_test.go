package progress

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestStatus: a step's finished sub-tasks print as BuildKit's plain printer prints
// statuses ("#N ID[ SIZE][ TIME] done", no timestamp), as "statuses" in rawjson, and not
// at all in quiet mode; sizes use tonistiigi/units' %.2f.
func TestStatus(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := WithClock(func() time.Time { return now })
	var plain bytes.Buffer
	d, _ := New(&plain, ModePlain, clock)
	s := d.Start("[internal] load build definition from Dockerfile")
	s.Status("transferring dockerfile:", 95, 0)
	s.Status("exporting layers", 0, 120*time.Millisecond)
	s.Done(nil)
	d.Close()
	want := "#1 [internal] load build definition from Dockerfile\n#1 transferring dockerfile: 95B done\n#1 exporting layers 0.1s done\n#1 DONE 0.0s\n"
	if plain.String() != want {
		t.Errorf("plain:\n%q\nwant\n%q", plain.String(), want)
	}

	var raw bytes.Buffer
	d, _ = New(&raw, ModeRawJSON, clock)
	s = d.Start("exporting to image")
	s.Status("naming to docker.io/library/a:1", 0, 0)
	d.Close()
	lines := strings.Split(strings.TrimSpace(raw.String()), "\n")
	var st struct {
		Statuses []map[string]any `json:"statuses"`
	}
	if len(lines) != 2 || json.Unmarshal([]byte(lines[1]), &st) != nil || len(st.Statuses) != 1 ||
		st.Statuses[0]["id"] != "naming to docker.io/library/a:1" || st.Statuses[0]["completed"] == nil {
		t.Errorf("rawjson:\n%s", raw.String())
	}

	var quiet bytes.Buffer
	d, _ = New(&quiet, ModeQuiet, clock)
	d.Start("x").Status("y", 1, 0)
	d.Close()
	if quiet.Len() != 0 {
		t.Errorf("quiet printed %q", quiet.String())
	}

	for n, want := range map[int64]string{1: " 1B", 999: " 999B", 1000: " 1.00kB", 2048: " 2.05kB", 1234567: " 1.23MB"} {
		if got := statusBytes(n); got != want {
			t.Errorf("statusBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
