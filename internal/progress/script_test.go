package progress

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// script drives a Display through a build with a fake clock.
type script func(d *Display, clk *fakeClock)

var scripts = []struct {
	name string
	run  script
}{
	{"build", func(d *Display, clk *fakeClock) {
		load := d.Start("[internal] load build definition from Dockerfile")
		clk.Advance(20 * time.Millisecond)
		load.Write([]byte("transferring dockerfile: 120B done\n"))
		clk.Advance(30 * time.Millisecond)
		load.Done(nil)

		base := d.Start("[base 1/3] FROM docker.io/library/alpine:3.20")
		base.Cached()
		d.Warn("JSONArgsRecommended: JSON arguments recommended for CMD (line 9)")

		a := d.Start("[base 2/3] RUN make")
		b := d.Start("[stage-1 2/2] RUN ./test.sh")
		clk.Advance(152 * time.Millisecond)
		a.Write([]byte("cc -o ma"))                  // split write: a line in three pieces
		b.Write([]byte("running 3 tests\r\nok 1\n")) // CRLF, two lines at once
		clk.Advance(100 * time.Millisecond)
		a.Write([]byte("in main.c"))
		a.Write([]byte("\n\nlinking\n")) // an empty line is a line too
		clk.Advance(1 * time.Second)
		b.Write([]byte("ok 2\nnot ok 3 - expected 4, got 5")) // partial, flushed at Done
		clk.Advance(11 * time.Second)
		a.Done(nil)
		b.Done(errors.New(`process "/bin/sh -c ./test.sh" did not complete successfully: exit code: 1`))
	}},
	{"canceled", func(d *Display, clk *fakeClock) {
		s := d.Start("[2/2] RUN sleep 100")
		clk.Advance(2500 * time.Millisecond)
		s.Write([]byte("sleeping\n"))
		clk.Advance(100 * time.Second)
		s.Done(fmt.Errorf("running step: %w", context.Canceled))
		still := d.Start("[3/3] RUN echo never done")
		still.Write([]byte("half a line")) // Close flushes it in plain mode
	}},
}

// TestScripts renders each script in every mode and compares the whole
// output with testdata/<script>.<mode>.golden.
func TestScripts(t *testing.T) {
	for _, sc := range scripts {
		for _, mode := range []string{ModePlain, ModeTTY, ModeQuiet} {
			t.Run(sc.name+"/"+mode, func(t *testing.T) {
				clk := newFakeClock()
				var out bytes.Buffer
				d, err := New(&out, mode, WithClock(clk.Now), WithRefresh(0), WithSize(72, 0), WithColor(true))
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				sc.run(d, clk)
				clk.Advance(time.Second)
				if err := d.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				golden(t, sc.name+"."+mode+".golden", showEscapes(out.Bytes()))

				// Nothing at all is printed after Close.
				n := out.Len()
				s := d.Start("[late] RUN echo")
				s.Write([]byte("late\n"))
				s.Done(errors.New("late"))
				d.Warn("late")
				if err := d.Close(); err != nil {
					t.Errorf("second Close: %v", err)
				}
				if out.Len() != n {
					t.Errorf("printed after Close: %q", out.Bytes()[n:])
				}
			})
		}
	}
}
