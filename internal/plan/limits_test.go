package plan_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hush-build/hush/internal/dockerfile"
	"github.com/hush-build/hush/internal/plan"
)

// applyAll plans src and applies every stage to base, returning the first error and
// the last step of the last stage.
func applyAll(src string, base v1.Config) (*plan.Step, error) {
	f, err := dockerfile.Parse("Dockerfile", strings.NewReader(src))
	if err != nil {
		return nil, err
	}
	p, err := plan.New(f, plan.Options{Platform: ocispecs.Platform{OS: "linux", Architecture: "amd64"}, BuildPlatform: ocispecs.Platform{OS: "linux", Architecture: "amd64"}})
	if err != nil {
		return nil, err
	}
	var last *plan.Step
	for _, st := range p.Stages {
		state, err := p.NewState(st, base)
		if err != nil {
			return nil, err
		}
		for _, c := range st.Commands {
			if last, err = state.Apply(c); err != nil {
				return nil, err
			}
		}
	}
	return last, nil
}

// times16 is NAME=$REF$REF… (16 references): each use multiplies REF's size by 16.
func times16(name, ref string) string {
	return name + "=" + strings.Repeat("$"+ref, 16)
}

// doubling is the ARG (or ENV) ladder A=16 bytes, B=256, C=4 KiB, D=64 KiB, E=1 MiB,
// F=16 MiB, G=256 MiB, one per line from line 2.
func doubling(kind string) string {
	lines := []string{"FROM scratch", kind + " A=aaaaaaaaaaaaaaaa"}
	for _, n := range []string{"B", "C", "D", "E", "F", "G"} {
		lines = append(lines, kind+" "+times16(n, string(rune(n[0]-1))))
	}
	return strings.Join(append(lines, "RUN true"), "\n") + "\n"
}

// eLadder is a stage whose ARG E holds exactly 1 MiB (the largest value allowed), on line 6.
const eLadder = "FROM scratch\nARG A=aaaaaaaaaaaaaaaa\nARG B=$A$A$A$A$A$A$A$A$A$A$A$A$A$A$A$A\n" +
	"ARG C=$B$B$B$B$B$B$B$B$B$B$B$B$B$B$B$B\nARG D=$C$C$C$C$C$C$C$C$C$C$C$C$C$C$C$C\n" +
	"ARG E=$D$D$D$D$D$D$D$D$D$D$D$D$D$D$D$D\n"

// bigEnv is n KEY=value entries whose values are size bytes each.
func bigEnv(n, size int) []string {
	var env []string
	for i := range n {
		env = append(env, fmt.Sprintf("BIG%02d=%s", i, strings.Repeat("x", size)))
	}
	return env
}

// TestExpansionLimits: a value past 1 MiB, or a step environment past 16 MiB, is a
// Dockerfile:LINE error naming the variable and the limit, found without building
// the oversized string.
func TestExpansionLimits(t *testing.T) {
	var envLines []string
	for i := 1; i <= 16; i++ {
		envLines = append(envLines, fmt.Sprintf("ENV V%02d=$E", i))
	}
	tests := []struct {
		name string
		src  string
		base v1.Config
		want []string // substrings; the first is Dockerfile:LINE
	}{
		// E (line 6) is exactly 1 MiB and allowed; F would be 16 MiB.
		{name: "arg-ladder", src: doubling("ARG"), want: []string{"Dockerfile:7: ", "ARG F", "$E", "1 MiB"}},
		{name: "env-ladder", src: doubling("ENV"), want: []string{"Dockerfile:7: ", "ENV F", "$E", "1 MiB"}},
		{
			name: "global-arg-ladder",
			src:  strings.Replace(strings.TrimPrefix(doubling("ARG"), "FROM scratch\n"), "RUN true", "FROM scratch", 1),
			want: []string{"Dockerfile:6: ", "ARG F", "$E", "1 MiB"},
		},
		{name: "label", src: eLadder + "LABEL big=$E$E\n", want: []string{"Dockerfile:7: ", "LABEL big", "$E", "1 MiB"}},
		{name: "default-word", src: eLadder + "ARG X=${UNSET:-$E$E}\n", want: []string{"Dockerfile:7: ", "ARG X", "1 MiB"}},
		{name: "unused-alternative-word", src: eLadder + "ENV X=${UNSET:+$E$E}\n", want: []string{"Dockerfile:7: ", "ENV X", "1 MiB"}},
		{name: "run-mount-option", src: eLadder + "RUN --mount=type=cache,id=$E$E,target=/c true\n", want: []string{"Dockerfile:7: ", "$E", "1 MiB"}},
		{name: "copy-source", src: eLadder + "COPY $E$E /dst\n", want: []string{"Dockerfile:7: ", "$E", "1 MiB"}},
		// ${E//a/$D}: 1 MiB of "a", each replaced by 64 KiB, would be 64 GiB.
		{name: "pattern-replacement", src: eLadder + "ARG X=${E//a/$D}\n", want: []string{"Dockerfile:7: ", "ARG X", "1 MiB"}},
		{
			// The ARGs come to just over 1 MiB; V15 takes the environment past 16 MiB.
			name: "step-environment",
			src:  eLadder + strings.Join(envLines, "\n") + "\nRUN true\n",
			want: []string{"Dockerfile:21: ", "ENV V15", "16 MiB"},
		},
		{
			name: "step-environment-arg",
			src:  eLadder + strings.Join(envLines[:14], "\n") + "\nARG LAST=$E\nRUN true\n",
			want: []string{"Dockerfile:21: ", "ARG LAST", "16 MiB"},
		},
		{
			name: "base-image-environment",
			src:  "# base\nFROM scratch\nRUN true\n",
			base: v1.Config{Env: bigEnv(17, 1<<20)},
			want: []string{"Dockerfile:2: ", "base image", "16 MiB"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := applyAll(tt.src, tt.base)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatal("planning succeeded, want a limit error")
			}
			t.Logf("error: %.300s", err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %.300q does not contain %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), tt.want[0]) {
				t.Errorf("error %.300q does not start with %q", err, tt.want[0])
			}
			if len(err.Error()) > 1024 {
				t.Errorf("error is %d bytes long; it must not carry the values", len(err.Error()))
			}
			// The legitimate part (a 1 MiB ARG, or 16 MiB of base env, each copied a few
			// times) allocates well under 256 MiB; building F and G would not.
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
				t.Errorf("planning allocated %d MiB", grew>>20)
			}
		})
	}
}

// TestExpansionWithinLimits: values and environments up to the limits plan fine.
func TestExpansionWithinLimits(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		base    v1.Config
		wantEnv int // bytes of KEY=value in the last RUN's environment, at least
	}{
		{name: "one-mib-arg", src: eLadder + "RUN true\n", wantEnv: 1 << 20},
		{name: "replacement-doubling-64k", src: eLadder + "ARG X=${D//a/bb}\nRUN true\n", wantEnv: 1<<20 + 128<<10},
		{name: "base-env-15-mib", src: "FROM scratch\nRUN true\n", base: v1.Config{Env: bigEnv(15, 1<<20)}, wantEnv: 15 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step, err := applyAll(tt.src, tt.base)
			if err != nil {
				t.Fatalf("%.300v", err)
			}
			n := 0
			for _, kv := range step.Env {
				n += len(kv)
			}
			if step.Kind != plan.Run || n < tt.wantEnv {
				t.Fatalf("last step kind %v with %d bytes of environment, want a RUN with at least %d", step.Kind, n, tt.wantEnv)
			}
		})
	}
}
