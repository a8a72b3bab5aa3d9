package pkg

import (
	"testing"

	"github.com/hush-build/hush/internal/hushtest"
)

func TestDirect(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	t.Skipf("needs %s", "x")
}

func BenchmarkDirect(b *testing.B) {
	b.SkipNow()
}

func TestThroughRequire(t *testing.T) {
	hushtest.Require(t, false, "needs x")
	hushtest.RequireBinary(t, "x")
	t.Skipped() // asks, does not skip
}
