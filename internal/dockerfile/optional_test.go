package dockerfile

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestOptionalSecrets(t *testing.T) {
	tests := []struct {
		name, df string
		want     []string
	}{
		{"explicit false", "FROM busybox\nRUN --mount=type=secret,id=a,required=false true\n", []string{"a"}},
		{"default is not explicit", "FROM busybox\nRUN --mount=type=secret,id=a true\n", nil},
		{"required wins over optional", "FROM busybox\nRUN --mount=type=secret,id=a,required=false true\nRUN --mount=type=secret,id=a true\n", nil},
		{"id from target", "FROM busybox\nRUN --mount=type=secret,target=/run/secrets/tok,required=false true\n", []string{"tok"}},
		{"not a secret", "FROM busybox\nRUN --mount=type=cache,target=/c true\n", nil},
		{"later stage", "FROM busybox AS a\nRUN true\nFROM a\nRUN --mount=type=secret,id=x,required=0 --mount=type=secret,id=y,required=true true\n", []string{"x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("Dockerfile", strings.NewReader(tt.df))
			if err != nil {
				t.Fatal(err)
			}
			got := slices.Sorted(maps.Keys(f.OptionalSecrets()))
			if !slices.Equal(got, tt.want) {
				t.Errorf("OptionalSecrets() = %v, want %v", got, tt.want)
			}
		})
	}
}
