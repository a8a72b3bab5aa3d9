package sink

import (
	"context"
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/image"
)

// TestPlanMultiPlatform: a multi-platform build refuses the hush store and docker outputs
// before it starts, except an image output that also pushes, which then only pushes (with
// a warning); oci, local and tar outputs take it.
func TestPlanMultiPlatform(t *testing.T) {
	push := func(context.Context, *image.Composed, string, bool) error { return nil }
	tests := []struct {
		outs    []string
		tags    []string
		sinks   int
		wantErr string
		warn    bool
	}{
		{outs: nil, tags: []string{"app"}, wantErr: "the hush store keeps single-platform images"},
		{outs: []string{"type=docker,dest=a.tar"}, wantErr: "a docker archive keeps single-platform images"},
		{outs: []string{"type=image,push=true"}, tags: []string{"reg.example/app"}, sinks: 1, warn: true},
		{outs: []string{"type=registry"}, tags: []string{"reg.example/app"}, sinks: 1},
		{outs: []string{"type=oci,dest=o.tar", "type=local,dest=d", "type=tar,dest=t.tar"}, sinks: 3},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.outs, " "), func(t *testing.T) {
			var outs []Output
			for _, s := range tt.outs {
				o, err := Parse(s)
				if err != nil {
					t.Fatal(err)
				}
				outs = append(outs, o)
			}
			var warned []string
			env := Env{Platforms: 2, Push: push, Warn: func(s string) { warned = append(warned, s) }}
			ss, _, err := Plan(outs, tt.tags, env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(ss) != tt.sinks || (len(warned) > 0) != tt.warn {
				t.Fatalf("%d sinks, warnings %q, err %v; want %d sinks", len(ss), warned, err, tt.sinks)
			}
		})
	}
}
