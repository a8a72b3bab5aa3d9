package progress

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hush-build/hush/internal/hushtest"
)

// TestConcurrentSteps builds many steps from many goroutines, each writing
// its lines in awkward pieces, while warnings arrive and (in TTY mode) the
// ticker redraws. Run it with -race. In plain mode every printed line must
// be whole and each step's lines must appear complete and in order.
func TestConcurrentSteps(t *testing.T) {
	const steps, linesPerStep = 12, 60
	for _, mode := range []string{ModePlain, ModeTTY, ModeQuiet} {
		t.Run(mode, func(t *testing.T) {
			var out hushtest.Buffer
			d, err := New(&out, mode, WithRefresh(time.Millisecond), WithSize(100, 30))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			var wg sync.WaitGroup
			for i := range steps {
				wg.Go(func() {
					s := d.Start(fmt.Sprintf("[stage-%d 2/2] RUN work", i))
					for j := range linesPerStep {
						msg := fmt.Sprintf("step %d line %d\n", i, j)
						cut := j % len(msg)
						s.Write([]byte(msg[:cut]))
						s.Write([]byte(msg[cut:]))
						if j%20 == 0 {
							d.Warn(fmt.Sprintf("from step %d", i))
						}
					}
					if got := s.Tail(1); len(got) != 1 || got[0] != fmt.Sprintf("step %d line %d", i, linesPerStep-1) {
						t.Errorf("step %d Tail(1) = %q", i, got)
					}
					if i%4 == 0 {
						s.Done(errors.New("exit code: 1"))
					} else {
						s.Done(nil)
					}
				})
			}
			wg.Wait()
			if err := d.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			failed := (steps + 3) / 4
			if got := strings.Count(out.String(), "RUN work:\n"); got != failed {
				t.Errorf("%d error logs printed, want %d", got, failed)
			}
			switch mode {
			case ModePlain:
				checkPlain(t, out.String(), steps, linesPerStep)
			case ModeTTY:
				if want := fmt.Sprintf("(%d/%d) FINISHED", steps, steps); !strings.Contains(out.String(), want) {
					t.Errorf("final frame lacks %q", want)
				}
			case ModeQuiet:
				if strings.Contains(out.String(), "WARN") || strings.Contains(out.String(), "#1 ") {
					t.Errorf("quiet printed more than error logs:\n%s", out.String())
				}
			}
		})
	}
}

var (
	plainLine = regexp.MustCompile(`^(#(\d+) (\d+\.\d{3} step (\d+) line (\d+)|\[.*\] RUN work|\.\.\.|DONE \d+\.\ds|ERROR: exit code: 1)|WARN: from step \d+|)$`)
	errorLog  = regexp.MustCompile(`^(------| > \[stage-\d+ 2/2\] RUN work:|\d+\.\d{3} step \d+ line \d+)$`)
)

func checkPlain(t *testing.T, out string, steps, linesPerStep int) {
	t.Helper()
	next := map[string]int{}     // step number → next line expected
	owner := map[string]string{} // #N → step number whose output it shows
	inErrors := false
	for i, l := range lines(out) {
		if l == "------" {
			inErrors = true
		}
		if inErrors {
			if !errorLog.MatchString(l) {
				t.Errorf("line %d in the error logs is not whole: %q", i, l)
			}
			continue
		}
		m := plainLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %d is not a whole line: %q", i, l)
		}
		if m[4] == "" {
			continue
		}
		if o, ok := owner[m[2]]; ok && o != m[4] {
			t.Errorf("#%s prints output of step %s and of step %s", m[2], o, m[4])
		}
		owner[m[2]] = m[4]
		if want := strconv.Itoa(next[m[4]]); m[5] != want {
			t.Errorf("step %s printed line %s, want line %s", m[4], m[5], want)
		}
		next[m[4]]++
	}
	if len(next) != steps {
		t.Errorf("output from %d steps, want %d", len(next), steps)
	}
	for step, n := range next {
		if n != linesPerStep {
			t.Errorf("step %s printed %d lines, want %d", step, n, linesPerStep)
		}
	}
}
