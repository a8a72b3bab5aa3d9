package builder

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/audit"
	"github.com/hush-build/hush/internal/fsroot"
	"github.com/hush-build/hush/internal/lease"
	"github.com/hush-build/hush/internal/progress"
	"github.com/hush-build/hush/internal/secret"
)

// AuditOptions says what a build's self-audit searches for and what it does on a leak.
type AuditOptions struct {
	// Mode is --audit: "fail" (a leak fails the build and is purged), "warn" or "off".
	Mode string
	// Secrets are the build's secret values (the caller keeps and wipes them).
	Secrets  *secret.Set
	Progress *progress.Display
}

// selfAudit proves that none of the build's secret values is in any layer the build
// produced, reused from the cache or started from — in every stage, not only the
// target's — nor in the image's config, history and manifest, nor in the state dirs a
// build writes (cache records, cache mounts, its own scratch dir — not another Run's). A
// layer the Ledger records as audited clean against every value is not read again.
//
// On a leak in "fail" mode it purges what leaked — a layer from the cache, the layer
// store and the snapshots; a file from a cache mount (or the whole mount) — and returns an
// error naming, for each finding, the secret id, the place, and the stage and step that
// produced the layer, and saying what could not be removed. Nothing must be published then.
func (s *session) selfAudit(ctx context.Context, res *Result, o AuditOptions) error {
	b := s.b
	vals := o.Secrets.Values()
	if o.Mode == "off" || len(vals) == 0 {
		return nil
	}
	short := len(secret.ShortIDs(vals))
	if short == len(vals) {
		o.Progress.Warn(fmt.Sprintf("not auditing the image: every secret value (%d) is shorter than %d bytes, too short to search for", short, secret.MinSearchable))
		return nil
	}
	what := fmt.Sprintf("%d secret value(s)", len(vals))
	if short > 0 {
		what = fmt.Sprintf("%d of %d secret values (%d too short to audit)", len(vals)-short, len(vals), short)
	}
	step := o.Progress.Start("auditing every layer of the build and its state for " + what)
	a := &auditRun{secrets: vals, ledger: b.Audited, skipped: map[string]bool{}}
	prep, err := audit.Prepare(vals, audit.Options{}) // once for the image, layers and dirs
	if err != nil {
		step.Done(err)
		return err
	}
	defer prep.Wipe()
	a.prepared = prep
	if b.ledgerKey != nil {
		a.fps = o.Secrets.ValueFingerprints(b.ledgerKey)
	}
	findings, err := a.scan(ctx, s, res)
	if err != nil {
		step.Done(err)
		return err
	}
	fmt.Fprintf(step, "%d layer(s) read, %d already audited clean for these values\n", a.read, len(a.skipped))
	if len(findings) == 0 {
		a.recordClean(res)
		s.clearUnaudited(res)
		step.Done(nil)
		return nil
	}
	lines := describe(findings, res)
	err = fmt.Errorf("audit found %d secret leak(s); nothing was published:\n  %s", len(findings), strings.Join(lines, "\n  "))
	if o.Mode == "warn" {
		res.Leaked = leakedLayers(findings)
		s.clearUnaudited(res) // the user chose to keep them
		step.Done(nil)
		o.Progress.Warn(strings.Replace(err.Error(), "; nothing was published", "", 1))
		return nil
	}
	if report := s.purge(a, findings, res); report != "" {
		err = fmt.Errorf("%w\n%s", err, report)
	}
	s.clearUnaudited(res) // the leaking ones are purged, the others were audited clean
	step.Done(err)
	return err
}

// auditRun is one self-audit: the values, their keyed fingerprints and the layers found clean.
type auditRun struct {
	secrets  map[string][]byte
	fps      []string
	ledger   *audit.Ledger
	skipped  map[string]bool // layers the ledger knew clean
	read     int             // layers read
	prepared *audit.Prepared
}

// skip reports a layer the ledger knows to be clean for every value searched.
func (a *auditRun) skip(digest string) bool {
	if a.ledger != nil && a.ledger.Clean(digest, a.fps) {
		a.skipped[digest] = true
		return true
	}
	return false
}

// scan searches the image, the other stages' layers and the state dirs.
func (a *auditRun) scan(ctx context.Context, s *session, res *Result) ([]audit.Finding, error) {
	opts := audit.Options{SkipLayer: a.skip, Prepared: a.prepared}
	var findings []audit.Finding
	inImage := map[string]bool{}
	read := 0
	if res.Image != nil { // nil when the build failed: only its layers are audited
		rep, err := audit.Scan(ctx, res.Image, a.secrets, opts)
		if err != nil {
			return nil, err
		}
		findings, read = rep.Findings, rep.Stats.Layers
		if layers, err := res.Image.Layers(); err == nil {
			for _, l := range layers {
				if d, err := l.Digest(); err == nil {
					inImage[d.String()] = true
				}
			}
		}
	}
	var others []v1.Layer
	for _, o := range res.Layers {
		if d, err := o.Layer.Digest(); err == nil && !inImage[d.String()] {
			others = append(others, o.Layer)
		}
	}
	lrep, err := audit.ScanLayers(ctx, others, a.secrets, opts)
	if err != nil {
		return nil, err
	}
	findings = append(findings, lrep.Findings...)
	a.read = read + lrep.Stats.Layers
	for name, raw := range res.provenances() {
		af, err := audit.ScanAttestation(raw, name, a.secrets, audit.Options{})
		if err != nil {
			return nil, err
		}
		findings = append(findings, af...)
	}
	for _, dir := range s.stateDirs() {
		drep, err := audit.ScanDir(ctx, dir, a.secrets, audit.Options{Prepared: a.prepared})
		if err != nil {
			return nil, err
		}
		for i := range drep.Findings {
			drep.Findings[i].Location.Path = filepath.Join(dir, drep.Findings[i].Location.Path)
		}
		findings = append(findings, drep.Findings...)
	}
	return findings, nil
}

// stateDirs are the directories of the state dir a build writes besides layers: the
// shared cache records and cache mounts, and the session's own scratch dir.
func (s *session) stateDirs() []string {
	var out []string
	for _, d := range []string{s.b.Cache.Dir(), s.b.CacheMountDir, s.dir()} {
		if _, err := os.Stat(d); err == nil {
			out = append(out, d)
		}
	}
	return out
}

// recordClean notes in the ledger every layer of the build as clean for the values.
func (a *auditRun) recordClean(res *Result) {
	if a.ledger == nil || len(a.fps) == 0 {
		return
	}
	for _, o := range res.Layers {
		if d, err := o.Layer.Digest(); err == nil {
			_ = a.ledger.Record(d.String(), a.fps)
		}
	}
	if res.Image == nil {
		return
	}
	if layers, err := res.Image.Layers(); err == nil {
		for _, l := range layers {
			if d, err := l.Digest(); err == nil {
				_ = a.ledger.Record(d.String(), a.fps)
			}
		}
	}
}

// describe renders each finding with the stage and step that made its layer.
func describe(findings []audit.Finding, res *Result) []string {
	origin := map[string]LayerOrigin{}
	for _, o := range res.Layers {
		if d, err := o.Layer.Digest(); err == nil {
			origin[d.String()] = o
		}
	}
	var lines []string
	for _, f := range findings {
		line := fmt.Sprintf("secret %s (%s) in %s", f.Secret, f.Encoding, f.Location)
		if o, ok := origin[f.Location.Layer]; ok && f.Location.Kind == audit.KindLayer {
			line += fmt.Sprintf(" — stage %s, %s", o.Stage, o.Step)
		}
		lines = append(lines, line)
	}
	sort.Strings(lines)
	return lines
}

// purge removes what leaked and reports, line by line, what it removed and what is still
// on disk (with its path); "" when there was nothing to purge.
func (s *session) purge(a *auditRun, findings []audit.Finding, res *Result) string {
	leaked := leakedLayers(findings)
	var files []string
	for _, f := range findings {
		if f.Location.Kind == audit.KindFile {
			files = append(files, f.Location.Path)
		}
	}
	var lines []string
	for _, o := range layersOf(res) {
		d, err := o.Digest()
		if err != nil || !leaked[d.String()] {
			continue
		}
		if a.ledger != nil {
			_ = a.ledger.Forget(d.String())
		}
		lines = append(lines, s.purgeLayer(o))
	}
	lines = append(lines, s.purgeFiles(files)...)
	if len(lines) == 0 {
		return ""
	}
	return "  " + strings.Join(lines, "\n  ")
}

// leakedLayers are the digests of the layers findings name.
func leakedLayers(findings []audit.Finding) map[string]bool {
	leaked := map[string]bool{}
	for _, f := range findings {
		if f.Location.Kind == audit.KindLayer {
			leaked[f.Location.Layer] = true
		}
	}
	return leaked
}

// layersOf is every distinct layer of the build, the image's included.
func layersOf(res *Result) []v1.Layer {
	var out []v1.Layer
	seen := map[v1.Hash]bool{}
	add := func(l v1.Layer) {
		if d, err := l.Digest(); err == nil && !seen[d] {
			seen[d] = true
			out = append(out, l)
		}
	}
	for _, o := range res.Layers {
		add(o.Layer)
	}
	if res.Image == nil {
		return out
	}
	if layers, err := res.Image.Layers(); err == nil {
		for _, l := range layers {
			add(l)
		}
	}
	return out
}

// purgeLayer removes one leaking layer from the cache records, the layer store and the
// snapshots, and says what it could not remove.
func (s *session) purgeLayer(l v1.Layer) string {
	b := s.b
	d, _ := l.Digest()
	var errs []error
	refs := []string{lease.BlobRef(d.String())}
	if diff, err := l.DiffID(); err == nil {
		refs = append(refs, lease.LayerRef(diff.String()))
	}
	if err := s.lease.Drop(refs...); err != nil { // this build is done with it
		errs = append(errs, err)
	}
	if _, err := b.Cache.RemoveLayer(d.String()); err != nil {
		errs = append(errs, err)
	}
	if err := b.Images.RemoveBlobIfUnused(d); err != nil {
		errs = append(errs, err)
	}
	if diff, err := l.DiffID(); err == nil {
		if err := b.Snapshots.Remove(diff); err != nil {
			errs = append(errs, err)
		}
		if dir, ok := b.Snapshots.Dir(diff); ok {
			errs = append(errs, fmt.Errorf("unpacked copy still at %s", dir))
		}
	}
	if p, ok := b.Images.Blob(d); ok {
		errs = append(errs, fmt.Errorf("blob still at %s (a tagged image uses it: remove that image)", p))
	}
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return fmt.Sprintf("layer %s is STILL PRESENT: %s", d, strings.Join(msgs, "; "))
	}
	return fmt.Sprintf("layer %s was removed from hush's cache, layer store and snapshots", d)
}

// purgeFiles removes state-dir files holding a secret: a file in a cache mount (or, when it
// cannot be removed alone, the whole cache mount), a cache record. The build's scratch dir
// goes when the build ends.
func (s *session) purgeFiles(paths []string) []string {
	b := s.b
	var lines []string
	done := map[string]bool{}
	for _, p := range paths {
		if done[p] {
			continue
		}
		done[p] = true
		switch {
		case within(p, b.CacheMountDir):
			lines = append(lines, b.purgeCacheMountFile(p))
		case within(p, s.dir()):
			lines = append(lines, fmt.Sprintf("%s is removed with the build's scratch dir when the build ends", p))
		case within(p, b.Cache.Dir()):
			lines = append(lines, removeInside(b.Cache.Dir(), p))
		}
	}
	return lines
}

func (b *Builder) purgeCacheMountFile(p string) string {
	if line := removeInside(b.CacheMountDir, p); !strings.Contains(line, "STILL") {
		return line + " (from its cache mount)"
	}
	rel, _ := filepath.Rel(b.CacheMountDir, p)
	mount := filepath.Join(b.CacheMountDir, strings.Split(rel, string(filepath.Separator))[0])
	return removeInside(b.CacheMountDir, mount) + " (the whole cache mount: the file could not be removed alone)"
}

// removeInside removes p, a path under dir, without following a symlink on the way, and
// says whether it is gone.
func removeInside(dir, p string) string {
	rel, err := filepath.Rel(dir, p)
	if err == nil {
		var root *fsroot.Root
		if root, err = fsroot.Open(dir); err == nil {
			err = root.RemoveAll(rel)
			root.Close()
		}
	}
	if _, lerr := os.Lstat(p); err != nil || lerr == nil {
		return fmt.Sprintf("%s is STILL PRESENT: %v", p, err)
	}
	return fmt.Sprintf("%s was removed", p)
}

func within(p, dir string) bool {
	return dir != "" && (p == dir || strings.HasPrefix(p, dir+string(filepath.Separator)))
}

// clearUnaudited drops the build's layers from the journal of unaudited layers: they were
// audited (or purged, or kept with --audit=warn).
func (s *session) clearUnaudited(res *Result) {
	if s.b.unaudited == nil {
		return
	}
	for _, l := range layersOf(res) {
		if d, err := l.Digest(); err == nil {
			s.b.unaudited.clear(d.String(), s.id())
		}
	}
}
