package buildflags

import (
	"runtime"
	"strings"
	"testing"
)

func TestParsePlatforms(t *testing.T) {
	got, err := ParsePlatforms([]string{"linux/arm64/v8, linux/arm", "linux/arm64", "local"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, p.OS+"/"+p.Architecture+"/"+p.Variant)
	}
	want := "linux/arm64/ linux/arm/v7 linux/" + runtime.GOARCH + "/"
	if runtime.GOARCH == "arm64" {
		want = "linux/arm64/ linux/arm/v7"
	}
	if strings.Join(names, " ") != want {
		t.Errorf("platforms %v, want %s (normalized, duplicates dropped, local is the host)", names, want)
	}
	for _, bad := range []string{"windows/amd64", "linux/a/b/c/d", "darwin"} {
		if _, err := ParsePlatforms([]string{bad}); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
