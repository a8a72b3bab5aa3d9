package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// ErrInvalidReport is returned by ParseReport for a document that breaks the spec.
var ErrInvalidReport = errors.New("invalid audit report")

// ParseReport reads a JSON report strictly (docs/spec/audit-report.md): unknown fields,
// another version, unknown location kinds or a location missing its required fields are
// errors.
func ParseReport(b []byte) (*Report, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var r Report
	if err := d.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidReport, err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: trailing data", ErrInvalidReport)
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidReport, err)
	}
	return &r, nil
}

func (r *Report) validate() error {
	if r.Version != ReportVersion {
		return fmt.Errorf("version %d, want %d", r.Version, ReportVersion)
	}
	if r.Target == "" || r.Secrets == nil || r.Findings == nil {
		return errors.New("target, secrets and findings are required")
	}
	if !slices.IsSorted(r.Skipped) {
		return errors.New("skipped is not sorted")
	}
	for _, id := range r.Skipped {
		if slices.Contains(r.Secrets, id) {
			return fmt.Errorf("secret %q is both searched for and skipped", id)
		}
	}
	for i, f := range r.Findings {
		if (f.Secret == "") == (f.Rule == "") {
			return fmt.Errorf("finding %d: exactly one of secret and rule is required", i)
		}
		if f.Secret != "" && f.Encoding == "" {
			return fmt.Errorf("finding %d: a secret finding needs an encoding", i)
		}
		if !strings.HasPrefix(f.Fingerprint, "hmac-sha256:") || len(f.Fingerprint) != len("hmac-sha256:")+16 {
			return fmt.Errorf("finding %d: fingerprint %q is not hmac-sha256:<16 hex>", i, f.Fingerprint)
		}
		if f.Count < 1 || f.Location.Offset < 0 {
			return fmt.Errorf("finding %d: count must be ≥ 1 and offset ≥ 0", i)
		}
		l := f.Location
		switch l.Kind {
		case KindLayer:
			if !strings.HasPrefix(l.Layer, "sha256:") {
				return fmt.Errorf("finding %d: layer location without a layer digest", i)
			}
		case KindFile:
			if l.Path == "" {
				return fmt.Errorf("finding %d: file location without a path", i)
			}
		case KindHistory:
			if l.History == nil || *l.History < 0 || l.Field == "" {
				return fmt.Errorf("finding %d: history location needs history and field", i)
			}
		case KindConfig, KindManifest, KindIndex:
			if l.Field == "" {
				return fmt.Errorf("finding %d: %s location without a field", i, l.Kind)
			}
		default:
			return fmt.Errorf("finding %d: unknown location kind %q", i, l.Kind)
		}
	}
	return nil
}
