package dockerfile

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestBuildKitChecks: the build checks BuildKit's frontend runs on the Dockerfile alone
// warn with its rule names, messages and lines; "# check=skip=" silences them.
func TestBuildKitChecks(t *testing.T) {
	tests := []struct {
		name, df string
		want     []string // "Rule:line" in the order reported
		message  string   // one message, exactly BuildKit's
	}{
		{"clean", "FROM busybox\nCMD [\"sh\"]\n", nil, ""},
		{"json args", "FROM busybox\nENTRYPOINT sh\nCMD echo hi\n", []string{"JSONArgsRecommended:2", "JSONArgsRecommended:3"},
			"JSON arguments recommended for ENTRYPOINT to prevent unintended behavior related to OS signals"},
		{"json args after SHELL", "FROM busybox\nSHELL [\"/bin/sh\", \"-c\"]\nCMD echo hi\n", nil, ""},
		{"casing", "FROM busybox\nrun true\nRUN true\nENV a=b\n", []string{"ConsistentInstructionCasing:2"},
			"Command 'run' should match the case of the command majority (uppercase)"},
		{"stage names", "FROM busybox AS a\nFROM busybox AS a\nFROM busybox AS scratch\n",
			[]string{"DuplicateStageName:2", "ReservedStageName:3"}, `Duplicate stage name "a", stage names should be unique`},
		{"multiple CMD", "FROM busybox\nCMD [\"a\"]\nCMD [\"b\"]\n", []string{"MultipleInstructionsDisallowed:2"},
			"Multiple CMD instructions should not be used in the same stage because only the last one will be used"},
		{"relative workdir", "FROM busybox\nWORKDIR app\nWORKDIR sub\n", []string{"WorkdirRelativePath:2"},
			`Relative workdir "app" can have unexpected results if the base image changes`},
		{"legacy env", "FROM busybox\nENV A b\nLABEL c d\n", []string{"LegacyKeyValueFormat:2", "LegacyKeyValueFormat:3"},
			`"ENV key=value" should be used instead of legacy "ENV key value" format`},
		{"undefined arg in from", "FROM busybox:${VERSION}\n", []string{"UndefinedArgInFrom:1"}, ""},
		{"invalid default arg", "ARG IMG=\nFROM ${IMG}\n", []string{"InvalidDefaultArgInFrom:2"}, ""},
		{"redundant platform", "FROM --platform=$TARGETPLATFORM busybox\n", []string{"RedundantTargetPlatform:1"},
			"Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior"},
		{"const platform", "FROM --platform=linux/arm64 busybox AS build\n", []string{"FromPlatformFlagConstDisallowed:1"}, ""},
		{"const platform named for it", "FROM --platform=linux/arm64 busybox AS build-arm64\n", nil, ""},
		{"expose", "FROM busybox\nEXPOSE 80/TCP\nEXPOSE 127.0.0.1:80:80\n", []string{"ExposeProtoCasing:2", "ExposeInvalidFormat:3"}, ""},
		{"empty continuation", "FROM busybox\nRUN echo a && \\\n\n  echo b\n", []string{"NoEmptyContinuation:4"}, ""},
		{"stage casing from instructions", "FROM busybox AS Build\n", []string{"StageNameCasing:1"}, ""},
		{"skipped", "# check=skip=JSONArgsRecommended,ConsistentInstructionCasing\nFROM busybox\nCMD echo hi\nrun true\nRUN true\n", nil, ""},
		{"skip all", "# check=skip=all\nFROM busybox AS a\nFROM busybox AS a\n", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("Dockerfile", strings.NewReader(tt.df))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range f.Warnings {
				got = append(got, w.Rule+":"+itoa(w.Line))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("warnings %q, want %q (%+v)", got, tt.want, f.Warnings)
			}
			if tt.message != "" && (len(f.Warnings) == 0 || f.Warnings[0].Message != tt.message) {
				t.Errorf("message %+v, want %q", f.Warnings, tt.message)
			}
			for _, w := range f.Warnings {
				if !strings.HasPrefix(w.URL, "https://docs.docker.com/go/dockerfile/rule/") || w.Description == "" {
					t.Errorf("warning %+v lacks BuildKit's URL or description", w)
				}
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
