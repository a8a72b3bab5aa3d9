package plan_test

import (
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hush-build/hush/internal/dockerfile"
	"github.com/hush-build/hush/internal/plan"
)

// applyStages applies every stage of src (a stage based on another one starting from its
// final state, as the builder does) and returns the last stage's state and each step's
// history line ("" when it leaves none).
func applyStages(t *testing.T, src string) (*plan.State, []*plan.Step) {
	t.Helper()
	f, err := dockerfile.Parse("Dockerfile", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.New(f, plan.Options{Platform: ocispecs.Platform{OS: "linux", Architecture: "amd64"}, BuildPlatform: ocispecs.Platform{OS: "linux", Architecture: "amd64"}})
	if err != nil {
		t.Fatal(err)
	}
	states := map[*plan.Stage]*plan.State{}
	var state *plan.State
	var steps []*plan.Step
	for _, st := range p.Stages {
		if parent := states[st.BaseStage]; st.BaseStage != nil && parent != nil {
			state = parent.Child(st)
		} else if state, err = p.NewState(st, v1.Config{}); err != nil {
			t.Fatal(err)
		}
		steps = nil
		for _, c := range st.Commands {
			step, err := state.Apply(c)
			if err != nil {
				t.Fatal(err)
			}
			steps = append(steps, step)
		}
		states[st] = state
	}
	return state, steps
}

// TestBuildKitConfigAndHistory: what BuildKit v0.34's frontend writes for instructions
// where hush used to differ (testdata/conformance holds the images it built).
func TestBuildKitConfigAndHistory(t *testing.T) {
	tests := []struct {
		name, src   string
		createdBy   []string // of the last stage's steps
		check       func(*plan.State) string
		wantWorkdir string // of the last step ("" to skip)
	}{
		{
			name:      "expose ranges and protocols",
			src:       "FROM busybox\nEXPOSE 8000-8002/tcp 53/UDP 9000\n",
			createdBy: []string{"EXPOSE [53/udp 8000/tcp 8001/tcp 8002/tcp 9000/tcp]"}, // words sorted by the parser
			check: func(s *plan.State) string {
				var ports []string
				for p := range s.Config.ExposedPorts {
					ports = append(ports, p)
				}
				slices.Sort(ports)
				return strings.Join(ports, " ")
			},
		},
		{
			name:      "onbuild leaves no history",
			src:       "FROM busybox\nONBUILD RUN echo hi\n",
			createdBy: []string{""},
			check:     func(s *plan.State) string { return strings.Join(s.Config.OnBuild, ";") },
		},
		{
			name:        "absolute workdir verbatim",
			src:         "FROM busybox\nWORKDIR /a//b/\n",
			createdBy:   []string{"WORKDIR /a//b/"},
			check:       func(s *plan.State) string { return s.Config.WorkingDir },
			wantWorkdir: "/a//b/",
		},
		{
			name:      "relative workdir joined",
			src:       "FROM busybox\nWORKDIR /a//b/\nWORKDIR ../c\n",
			createdBy: []string{"WORKDIR /a//b/", "WORKDIR /a/c"},
			check:     func(s *plan.State) string { return s.Config.WorkingDir },
		},
		{
			name:      "shebang heredoc runs through the shell",
			src:       "FROM busybox\nRUN <<EOT\n#!/bin/sh\necho hi\nEOT\n",
			createdBy: []string{"RUN /bin/sh -c /dev/pipes/EOT # buildkit"},
		},
		{
			name:      "maintainer sets the author",
			src:       "FROM busybox\nMAINTAINER Someone <s@example.com>\n",
			createdBy: []string{"MAINTAINER Someone <s@example.com>"},
			check:     func(s *plan.State) string { return s.Author },
		},
		{
			name:      "a child stage keeps its parent's build args",
			src:       "FROM busybox AS a\nARG V=1\nFROM a\nARG W=2\nRUN echo $V\n",
			createdBy: []string{"ARG W=2", "RUN |2 V=1 W=2 /bin/sh -c echo $V # buildkit"},
		},
		{
			name:      "symbolic chmod",
			src:       "FROM busybox\nCOPY --chmod=u=rwx,go=r a /a\n",
			createdBy: []string{"COPY --chmod=u=rwx,go=r a /a # buildkit"},
		},
	}
	wantCheck := map[string]string{
		"expose ranges and protocols": "53/udp 8000/tcp 8001/tcp 8002/tcp 9000/tcp",
		"onbuild leaves no history":   "RUN echo hi",
		"absolute workdir verbatim":   "/a//b/",
		"relative workdir joined":     "/a/c",
		"maintainer sets the author":  "Someone <s@example.com>",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state, steps := applyStages(t, tt.src)
			var got []string
			for _, s := range steps {
				got = append(got, s.CreatedBy)
			}
			if !slices.Equal(got, tt.createdBy) {
				t.Errorf("history = %q, want %q", got, tt.createdBy)
			}
			if tt.check != nil {
				if c := tt.check(state); c != wantCheck[tt.name] {
					t.Errorf("config = %q, want %q", c, wantCheck[tt.name])
				}
			}
			if tt.wantWorkdir != "" {
				if last := steps[len(steps)-1]; last.Kind != plan.Mkdir || last.Dir != "/a/b" {
					t.Errorf("WORKDIR step kind %v dir %q, want a mkdir of /a/b", last.Kind, last.Dir)
				}
			}
		})
	}
}

// TestChmodValues: --chmod takes an octal mode up to 07777 or a symbolic one.
func TestChmodValues(t *testing.T) {
	for _, c := range []struct {
		chmod string
		ok    bool
	}{{"0755", true}, {"4755", true}, {"u+x", true}, {"u=rwx,go=r", true}, {"a-w", true},
		{"17777", false}, {"999", false}, {"u+q", false}} {
		_, err := applyAll("FROM busybox\nCOPY --chmod="+c.chmod+" a /a\n", v1.Config{})
		if (err == nil) != c.ok {
			t.Errorf("--chmod=%s: err = %v, want ok=%v", c.chmod, err, c.ok)
		}
	}
}

// TestLinkChownByName: COPY --link cannot resolve names (BuildKit's error); numbers work.
func TestLinkChownByName(t *testing.T) {
	for _, c := range []struct {
		flags string
		ok    bool
	}{{"--link --chown=1000:1000", true}, {"--link --chown=1000", true}, {"--chown=app", true},
		{"--link --chown=app", false}, {"--link --chown=1000:staff", false}, {"--link --chown=root", false}} {
		_, err := applyAll("FROM busybox\nCOPY "+c.flags+" a /a\n", v1.Config{})
		if (err == nil) != c.ok {
			t.Errorf("COPY %s: err = %v, want ok=%v", c.flags, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "can't be resolved when used with --link") {
			t.Errorf("COPY %s: err = %v, want BuildKit's message", c.flags, err)
		}
	}
}
