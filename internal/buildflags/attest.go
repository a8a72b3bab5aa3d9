package buildflags

import (
	"fmt"
	"strconv"
	"strings"

	csvvalue "github.com/tonistiigi/go-csvvalue"

	"github.com/hush-build/hush/internal/provenance"
)

// ParseProvenance reads --attest and --provenance as buildx does: --provenance=BOOL is
// type=provenance,disabled=!BOOL, other values are its attributes, and the first value
// given for a type wins. It returns the provenance to write (nil: none) and whether an
// SBOM was asked for (hush writes none).
func ParseProvenance(attests []string, short string) (*provenance.Options, bool, error) {
	in := attests
	if short != "" {
		if b, err := strconv.ParseBool(short); err == nil {
			in = append(in[:len(in):len(in)], fmt.Sprintf("type=provenance,disabled=%t", !b))
		} else {
			in = append(in[:len(in):len(in)], "type=provenance,"+short)
		}
	}
	seen := map[string]bool{}
	var prov *provenance.Options
	sbom := false
	for _, s := range in {
		typ, disabled, attrs, err := parseAttest(s)
		if err != nil {
			return nil, false, err
		}
		if seen[typ] {
			continue
		}
		seen[typ] = true
		switch {
		case disabled:
		case typ == "provenance":
			if prov, err = provenanceOptions(attrs); err != nil {
				return nil, false, fmt.Errorf("--attest %q: %w", s, err)
			}
		case typ == "sbom":
			sbom = true
		default:
			return nil, false, fmt.Errorf("--attest %q: unknown attestation type %q (want provenance or sbom)", s, typ)
		}
	}
	return prov, sbom, nil
}

// parseAttest is buildx's Attest.UnmarshalText: CSV of key=value with a type.
func parseAttest(s string) (typ string, disabled bool, attrs map[string]string, err error) {
	fields, err := csvvalue.Fields(s, nil)
	if err != nil {
		return "", false, nil, fmt.Errorf("--attest %q: %w", s, err)
	}
	attrs = map[string]string{}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return "", false, nil, fmt.Errorf("--attest %q: invalid value %s", s, f)
		}
		switch strings.TrimSpace(strings.ToLower(k)) {
		case "type":
			typ = v
		case "disabled":
			if disabled, err = strconv.ParseBool(v); err != nil {
				return "", false, nil, fmt.Errorf("--attest %q: invalid value %s", s, f)
			}
		default:
			attrs[k] = v
		}
	}
	if typ == "" {
		return "", false, nil, fmt.Errorf("--attest %q: attestation type not specified", s)
	}
	return typ, disabled, attrs, nil
}

// provenanceOptions are a provenance attestation's attributes, checked as BuildKit checks
// them (attributes BuildKit ignores are ignored).
func provenanceOptions(attrs map[string]string) (*provenance.Options, error) {
	o := &provenance.Options{Mode: "max", Version: "v1", Filename: "provenance.json", BuilderID: attrs["builder-id"]}
	if v, ok := attrs["mode"]; ok {
		switch v {
		case "min", "max":
			o.Mode = v
		case "full":
			o.Mode = "max"
		default:
			return nil, fmt.Errorf("invalid mode %q", v)
		}
	}
	if v, ok := attrs["version"]; ok {
		if v != "v1" && v != "v0.2" {
			return nil, fmt.Errorf("invalid provenance version %q (want v1 or v0.2)", v)
		}
		o.Version = v
	}
	if v, ok := attrs["filename"]; ok {
		o.Filename = v
	}
	o.InlineOnly, _ = strconv.ParseBool(attrs["inline-only"])
	if v, ok := attrs["reproducible"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("failed to parse reproducible flag %q", v)
		}
		o.Reproducible = b
	}
	return o, nil
}
