package audit

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLedgerRecordsFromConcurrentHandles: builds in several hush processes record audits
// of the same layer at once, each through its own Ledger. Every fingerprint any of them
// recorded is kept: none is lost to another's read-change-write.
func TestLedgerRecordsFromConcurrentHandles(t *testing.T) {
	dir := t.TempDir()
	const layer = "sha256:" + "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12"
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := OpenLedger(dir) // a handle of its own, as another process has
			if err != nil {
				errs <- err
				return
			}
			for i := range each {
				if err := l.Record(layer, []string{fmt.Sprintf("fp-%02d-%02d", w, i)}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	l, err := OpenLedger(dir)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for w := range writers {
		for i := range each {
			all = append(all, fmt.Sprintf("fp-%02d-%02d", w, i))
		}
	}
	got := l.read(layer)
	var lost []string
	for _, fp := range all {
		if !slices.Contains(got, fp) {
			lost = append(lost, fp)
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d of %d recorded fingerprints lost, e.g. %v", len(lost), len(all), lost[:min(5, len(lost))])
	}
	if !l.Clean(layer, all) {
		t.Error("the layer is not clean for every recorded fingerprint")
	}
	if err := l.Forget(layer); err != nil {
		t.Fatal(err)
	}
	if l.Clean(layer, all[:1]) {
		t.Error("a forgotten layer is still clean")
	}
}

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
