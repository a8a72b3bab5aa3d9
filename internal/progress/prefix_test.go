package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestPrefixed checks that views of one display name their steps and warnings as buildx
// names a bake target's, share the display's numbering, and leave closing to the owner.
func TestPrefixed(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Unix(0, 0)
	d, err := New(&buf, ModePlain, WithClock(func() time.Time { return clock }))
	if err != nil {
		t.Fatal(err)
	}
	app, web := d.Prefixed("app"), d.Prefixed("web")
	nested := app.Prefixed("linux/amd64")
	tests := []struct {
		view *Display
		name string
		want string
	}{
		{app, "[stage-1 2/5] RUN make", "#1 [app stage-1 2/5] RUN make"},
		{web, "auditing every layer", "#2 [web] auditing every layer"},
		{nested, "[1/2] FROM busybox", "#3 [app linux/amd64 1/2] FROM busybox"},
	}
	for _, tt := range tests {
		tt.view.Start(tt.name).Done(nil)
	}
	web.Warn("unused build arg X")
	if err := app.Close(); err != nil {
		t.Fatalf("closing a view: %v", err)
	}
	d.Start("after the views closed").Done(nil)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, tt := range tests {
		if !strings.Contains(out, tt.want+"\n") {
			t.Errorf("output lacks %q:\n%s", tt.want, out)
		}
	}
	for _, want := range []string{"WARN: [web] unused build arg X", "#4 after the views closed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q (a view's Close must not close the display):\n%s", want, out)
		}
	}
}
