package dockerfile

import (
	"reflect"
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

// TestReparse: every command of a file (after meta ARGs, in several stages, with heredocs
// and ONBUILD) reparses to an equal but separate command; a command from elsewhere does not.
func TestReparse(t *testing.T) {
	const src = "ARG A=1\nARG B\nFROM busybox AS a\nRUN --mount=type=secret,id=s,target=$A true\n" +
		"COPY <<EOF /x\n$A\nEOF\nFROM a\nONBUILD RUN echo hi\nENV X=$B\nRUN <<EOT\necho hi\nEOT\nCMD [\"sh\"]\n"
	f, err := Parse("Dockerfile", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, st := range f.Stages {
		for _, c := range st.Commands {
			fresh, ok, err := f.Reparse(c)
			if err != nil || !ok {
				t.Fatalf("Reparse(%s) = %v, %v", c.Name(), ok, err)
			}
			if fresh == c || !reflect.DeepEqual(fresh, c) {
				t.Errorf("Reparse(%s) = %#v, want an equal copy of %#v", c.Name(), fresh, c)
			}
			n++
		}
	}
	if n != 6 {
		t.Errorf("reparsed %d commands, want 6", n)
	}
	other, err := Parse("Dockerfile", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := f.Reparse(other.Stages[0].Commands[0]); ok {
		t.Error("Reparse accepted a command of another file")
	}
}
