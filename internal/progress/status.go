package progress

import (
	"bytes"
	"fmt"
	"time"
)

// rawVertexStatus is BuildKit's client.VertexStatus: one finished sub-task of a vertex.
type rawVertexStatus struct {
	ID        string     `json:"id"`
	Vertex    string     `json:"vertex,omitempty"`
	Current   int64      `json:"current"`
	Timestamp time.Time  `json:"timestamp"`
	Started   *time.Time `json:"started,omitempty"`
	Completed *time.Time `json:"completed,omitempty"`
}

// Status reports a finished sub-task of the step, as BuildKit's statuses do ("transferring
// dockerfile: 95B done", "naming to docker.io/library/app:1 done"): size bytes (0: none)
// that took took. The plain log prints it as a line of its own; the TTY view omits it.
func (s *Step) Status(id string, size int64, took time.Duration) {
	d := s.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if s.state != stateRunning || d.closed {
		return
	}
	var b bytes.Buffer
	switch d.mode {
	case ModePlain:
		d.plain.open(&b, s)
		fmt.Fprintf(&b, "#%d %s%s%s done\n", s.index, id, statusBytes(size), statusTime(took))
	case ModeRawJSON:
		end := d.now()
		start := end.Add(-took)
		encodeRaw(&b, rawStatus{Statuses: []rawVertexStatus{{ID: id, Vertex: s.digest(), Current: size,
			Timestamp: end.UTC(), Started: &start, Completed: &end}}})
	}
	d.write(&b)
}

// statusBytes is " SIZE" as BuildKit prints it (tonistiigi/units' %.2f: whole bytes under
// 1kB, else two decimals and a decimal unit), or "" for 0.
func statusBytes(n int64) string {
	if n == 0 {
		return ""
	}
	if n < 1000 && n > -1000 {
		return fmt.Sprintf(" %dB", n)
	}
	units := []string{"kB", "MB", "GB", "TB", "PB", "EB"}
	v, i := float64(n)/1000, 0
	for (v >= 1000 || v <= -1000) && i < len(units)-1 {
		v /= 1000
		i++
	}
	return fmt.Sprintf(" %.2f%s", v, units[i])
}

// statusTime is " X.Xs" for a sub-task that took more than 10ms, as BuildKit prints it.
func statusTime(d time.Duration) string {
	if d.Seconds() <= 0.01 {
		return ""
	}
	return fmt.Sprintf(" %.1fs", d.Seconds())
}
