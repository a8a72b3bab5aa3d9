package audit

import (
	"bytes"

	"github.com/hush-build/hush/internal/secret"
)

// Form is one encoding of a secret value; the list is shared with log masking so that
// what the audit looks for and what output hides never drift apart.
type Form = secret.Form

// Forms lists the encodings of value that hush searches for and masks (see secret.Forms
// and docs/spec/audit-report.md).
func Forms(value []byte) []Form { return secret.Forms(value) }

// matchForms is Forms without the forms that contain a shorter form: the shorter one
// already matches wherever the longer one would.
func matchForms(value []byte) []Form {
	all := Forms(value)
	var out []Form
	for i, f := range all {
		redundant := false
		for j, g := range all {
			if i != j && len(g.Bytes) < len(f.Bytes) && bytes.Contains(f.Bytes, g.Bytes) {
				redundant = true
				break
			}
		}
		if !redundant {
			out = append(out, f)
		}
	}
	return out
}
