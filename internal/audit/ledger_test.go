package audit

import (
	"fmt"
	"slices"
	"sync"
	"testing"
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
