package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hush-build/hush/internal/audit"
	"github.com/hush-build/hush/internal/build"
	"github.com/hush-build/hush/internal/progress"
	"github.com/hush-build/hush/internal/secret"
	"github.com/hush-build/hush/internal/sshagent"
)

// secretValues is every value a build was given that must not be in its output or its
// log: the --secret values (Git and HTTP auth secrets among them) and the private key
// files given to --ssh. The caller clears them.
func secretValues(secrets *secret.Store, sshFlags []string) (map[string][]byte, error) {
	vals := secrets.Values()
	specs, err := sshagent.ParseSpecs(sshFlags)
	if err != nil {
		return nil, err
	}
	for _, sp := range specs {
		for _, p := range sp.Paths {
			fi, err := os.Stat(p)
			if err != nil || !fi.Mode().IsRegular() {
				continue // an agent socket: no key material to look for
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("--ssh %s: %w", sp.ID, err)
			}
			vals["ssh:"+sp.ID+":"+filepath.Base(p)] = b
		}
	}
	return vals, nil
}

// warnShortSecrets names, at the start of a build, each secret value too short to audit
// or to mask anywhere (secret.Short); never its value or its length.
func warnShortSecrets(vals map[string][]byte, disp *progress.Display) {
	for _, id := range secret.ShortIDs(vals) {
		disp.Warn(fmt.Sprintf("secret %q is shorter than %d bytes: too short to audit or mask reliably; it is masked only as a whole word",
			id, secret.MinSearchable))
	}
}

// selfAudit proves the built image, and the state dirs a build writes, hold none of the
// build's secret values; with mode "fail" a leak fails the build before anything is
// published.
func selfAudit(ctx context.Context, mode string, b *build.Builder, img v1.Image, root string, vals map[string][]byte, disp *progress.Display) error {
	if mode == "off" || len(vals) == 0 {
		return nil
	}
	short := len(secret.ShortIDs(vals))
	if short == len(vals) {
		disp.Warn(fmt.Sprintf("not auditing the image: every secret value (%d) is shorter than %d bytes, too short to search for", short, secret.MinSearchable))
		return nil
	}
	what := fmt.Sprintf("%d secret value(s)", len(vals))
	if short > 0 {
		what = fmt.Sprintf("%d of %d secret values (%d too short to audit)", len(vals)-short, len(vals), short)
	}
	step := disp.Start("auditing image and build state for " + what)
	rep, err := audit.Scan(ctx, img, vals, audit.Options{})
	if err != nil {
		step.Done(err)
		return err
	}
	findings := rep.Findings
	for _, dir := range []string{"cache", "cachemounts", "tmp"} {
		p := filepath.Join(root, dir)
		if _, err := os.Stat(p); err != nil {
			continue
		}
		drep, err := audit.ScanDir(ctx, p, vals, audit.Options{})
		if err != nil {
			step.Done(err)
			return err
		}
		findings = append(findings, drep.Findings...)
	}
	if len(findings) == 0 {
		step.Done(nil)
		return nil
	}
	var lines []string
	for _, f := range findings {
		lines = append(lines, fmt.Sprintf("secret %s (%s) in %s", f.Secret, f.Encoding, f.Location))
	}
	err = fmt.Errorf("audit found %d secret leak(s); nothing was published:\n  %s", len(findings), strings.Join(lines, "\n  "))
	if mode == "warn" {
		step.Done(nil)
		disp.Warn(strings.Replace(err.Error(), "; nothing was published", "", 1))
		return nil
	}
	purged := purgeLeakedLayers(b, img, rep.Findings)
	if purged > 0 {
		err = fmt.Errorf("%w\n  (the %d leaking layer(s) were removed from hush's cache and layer store)", err, purged)
	}
	step.Done(err)
	return err
}

// purgeLeakedLayers removes the image's layers that hold a secret from the build cache,
// the layer store and the snapshots, so a later build cannot reuse them.
func purgeLeakedLayers(b *build.Builder, img v1.Image, findings []audit.Finding) int {
	leaked := map[string]bool{}
	for _, f := range findings {
		if f.Location.Kind == audit.KindLayer && f.Location.Layer != "" {
			leaked[f.Location.Layer] = true
		}
	}
	return b.PurgeLayers(img, leaked)
}
