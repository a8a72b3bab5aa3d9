package dockerfile

import (
	"strings"
	"testing"
)

func TestParseErrorsNameFileAndLine(t *testing.T) {
	cases := []struct {
		src, want string
	}{
		{"FROM busybox\nRUN true\nFOO bar\n", "Dockerfile:3: unknown instruction: FOO"},
		{"FROM busybox\nCOPY\n", "Dockerfile:2:"},
		{"", "Dockerfile: file with no instructions"},
		{"# comment only\n", "Dockerfile:1: file with no instructions"},
		{"RUN echo before from\n", "Dockerfile:1:"},
		{"FROM busybox\nRUN --mount=type=nope true\n", ""}, // mount types are checked when expanded
	}
	for _, tc := range cases {
		_, err := Parse("Dockerfile", strings.NewReader(tc.src))
		if tc.want == "" {
			if err != nil {
				t.Errorf("Parse(%q) = %v, want no error", tc.src, err)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want prefix %q", tc.src, err, tc.want)
		}
	}
}

func TestParseStagesAndHeredoc(t *testing.T) {
	f, err := Parse("Dockerfile", strings.NewReader("ARG V=1\nFROM busybox AS a\nRUN <<EOT\necho hi\nEOT\nFROM a\nCOPY --from=a /x /y\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.MetaArgs) != 1 || len(f.Stages) != 2 || f.Stages[0].Name != "a" {
		t.Fatalf("meta args %d, stages %+v", len(f.MetaArgs), f.Stages)
	}
	if got := len(f.Stages[0].Commands); got != 1 {
		t.Fatalf("stage a has %d commands", got)
	}
}
