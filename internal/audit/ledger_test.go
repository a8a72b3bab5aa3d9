package audit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLedgerRecordOnlyWhatIsNew: a layer's record is written when it learns a
// fingerprint and left untouched (not rewritten) when it already holds them all, as a
// cached rebuild with the same secrets finds it.
func TestLedgerRecordOnlyWhatIsNew(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenLedger(dir)
	if err != nil {
		t.Fatal(err)
	}
	layer := "sha256:" + strings.Repeat("ab", 32)
	if l.Clean(layer, []string{"fp1"}) {
		t.Fatal("an unknown layer is clean")
	}
	if err := l.Record(layer, []string{"fp1", "fp2"}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, strings.Repeat("ab", 32))
	before, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour)
	if err := os.Chtimes(p, past, past); err != nil {
		t.Fatal(err)
	}
	if err := l.Record(layer, []string{"fp2", "fp1"}); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if !after.ModTime().Equal(past) || !os.SameFile(before, after) {
		t.Error("a record holding every fingerprint was written again")
	}
	if err := l.Record(layer, []string{"fp3"}); err != nil {
		t.Fatal(err)
	}
	if !l.Clean(layer, []string{"fp1", "fp2", "fp3"}) || l.Clean(layer, []string{"fp4"}) {
		t.Error("the record does not hold exactly fp1, fp2 and fp3")
	}
}
