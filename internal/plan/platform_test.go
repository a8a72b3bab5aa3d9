package plan_test

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hush-build/hush/internal/dockerfile"
	"github.com/hush-build/hush/internal/plan"
)

const platformDockerfile = `ARG TOOLS=tools
FROM --platform=$BUILDPLATFORM busybox AS build
ARG BUILDPLATFORM BUILDOS BUILDARCH BUILDVARIANT TARGETPLATFORM TARGETOS TARGETARCH TARGETVARIANT TARGETSTAGE
RUN echo "$BUILDPLATFORM|$BUILDOS|$BUILDARCH|$BUILDVARIANT|$TARGETPLATFORM|$TARGETOS|$TARGETARCH|$TARGETVARIANT|$TARGETSTAGE"
FROM busybox AS target
RUN echo "$TARGETPLATFORM"
FROM --platform=linux/arm64/v8 busybox AS pinned
`

// TestPlatformArgs: the platform args are BuildKit's defaultArgs — BUILD* the build's
// platform, TARGET* the target's (normalized: arm's v7 variant), TARGETSTAGE the --target
// ("default" without one) — visible after ARG, not in a stage without it; FROM --platform
// is expanded with them and normalized; a --build-arg of the same name wins.
func TestPlatformArgs(t *testing.T) {
	f, err := dockerfile.Parse("Dockerfile", strings.NewReader(platformDockerfile))
	if err != nil {
		t.Fatal(err)
	}
	amd := ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	arm, _ := plan.ParsePlatform("linux/arm")
	tests := []struct {
		name   string
		opts   plan.Options
		echo   string
		stages [3]string
	}{
		{"native", plan.Options{Platform: amd, BuildPlatform: amd},
			"linux/amd64|linux|amd64||linux/amd64|linux|amd64||default", [3]string{"linux/amd64", "linux/amd64", "linux/arm64"}},
		{"arm/v7 target", plan.Options{Platform: arm, BuildPlatform: amd, Target: "build"},
			"linux/amd64|linux|amd64||linux/arm/v7|linux|arm|v7|build", [3]string{"linux/amd64", "linux/arm/v7", "linux/arm64"}},
		{"build arg overrides", plan.Options{Platform: arm, BuildPlatform: amd, BuildArgs: map[string]string{"TARGETARCH": "riscv64"}},
			"linux/amd64|linux|amd64||linux/arm/v7|linux|riscv64|v7|default", [3]string{"linux/amd64", "linux/arm/v7", "linux/arm64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := plan.New(f, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range tt.stages {
				if got := plan.FormatPlatform(p.Stages[i].Platform); got != want {
					t.Errorf("stage %d platform %s, want %s", i, got, want)
				}
			}
			if got := runArgs(t, p, 0); got != `echo "`+tt.echo+`"` {
				t.Errorf("RUN %s, want echo %q", got, tt.echo)
			}
			if got := runArgs(t, p, 1); got != `echo ""` {
				t.Errorf("TARGETPLATFORM without ARG: %s", got)
			}
		})
	}
	for _, bad := range []string{"FROM --platform=windows/amd64 busybox\n", "FROM --platform=linux/nope/x/y busybox\n"} {
		f, _ := dockerfile.Parse("Dockerfile", strings.NewReader(bad))
		if _, err := plan.New(f, plan.Options{}); err == nil {
			t.Errorf("%q planned", bad)
		}
	}
}

// runArgs applies a stage and returns its RUN's command, expanded as the shell sees it.
func runArgs(t *testing.T, p *plan.Plan, stage int) string {
	t.Helper()
	st := p.Stages[stage]
	s, err := p.NewState(st, v1.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range st.Commands {
		step, err := s.Apply(c)
		if err != nil {
			t.Fatal(err)
		}
		if step.Kind == plan.Run {
			return expandEnv(step.Args[len(step.Args)-1], step.Env)
		}
	}
	return ""
}

// expandEnv substitutes $NAME from env, as the step's shell would.
func expandEnv(cmd string, env []string) string {
	vals := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vals[k] = v
	}
	var b strings.Builder
	for i := 0; i < len(cmd); i++ {
		if cmd[i] != '$' {
			b.WriteByte(cmd[i])
			continue
		}
		j := i + 1
		for j < len(cmd) && (cmd[j] == '_' || cmd[j] >= 'A' && cmd[j] <= 'Z') {
			j++
		}
		b.WriteString(vals[cmd[i+1:j]])
		i = j - 1
	}
	return b.String()
}
