package audit

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ReportVersion is the version of the JSON report format (docs/spec/audit-report.md).
const ReportVersion = 1

// Report is the result of one audit. Its JSON form is specified in
// docs/spec/audit-report.md; it never contains a secret value.
type Report struct {
	Version int `json:"version"`
	// Target is what was scanned: the image reference as given, or a directory.
	Target string `json:"target"`
	// Digest is the scanned manifest's (or index's) digest; empty for directories.
	Digest string `json:"digest,omitempty"`
	// Secrets are the ids searched for; Skipped those too short to search for
	// (secret.Short), which would match by chance everywhere.
	Secrets  []string  `json:"secrets"`
	Skipped  []string  `json:"skipped,omitempty"`
	Detect   bool      `json:"detect"`
	Stats    Stats     `json:"stats"`
	Warnings []string  `json:"warnings,omitempty"`
	Findings []Finding `json:"findings"`
}

// Stats says how much was searched.
type Stats struct {
	Layers          int   `json:"layers"`
	Files           int64 `json:"files"`
	Bytes           int64 `json:"bytes"`
	CompressedBytes int64 `json:"compressed_bytes"`
	DurationMS      int64 `json:"duration_ms"`
}

// Finding is one secret (or, with Detect, one credential) at one place. Repeated
// occurrences at the same place add to Count; Location.Offset is the first.
type Finding struct {
	Secret      string   `json:"secret,omitempty"`
	Rule        string   `json:"rule,omitempty"`
	Encoding    string   `json:"encoding,omitempty"`
	Fingerprint string   `json:"fingerprint"`
	Location    Location `json:"location"`
	Count       int      `json:"count"`
}

// Location kinds.
const (
	KindLayer    = "layer"
	KindConfig   = "config"
	KindHistory  = "history"
	KindManifest = "manifest"
	KindIndex    = "index"
	KindFile     = "file"
)

// Location is where a finding is.
type Location struct {
	Kind string `json:"kind"`
	// Image is the manifest digest holding the location when an index was scanned.
	Image string `json:"image,omitempty"`
	// Layer is the layer's (compressed) digest, for KindLayer.
	Layer string `json:"layer,omitempty"`
	// Path is the tar entry path (KindLayer) or the file path relative to the scanned
	// directory (KindFile).
	Path string `json:"path,omitempty"`
	// Entry is the tar entry path inside a KindFile file that is a (compressed) tar,
	// such as a layer blob in hush's store.
	Entry string `json:"entry,omitempty"`
	// Header is set when the match is in a tar header (name, link target, PAX record)
	// rather than in the file's content.
	Header bool `json:"header,omitempty"`
	// Deleted is set when a later layer removes or replaces Path: the value is not in
	// the image's filesystem but still in its layers.
	Deleted bool `json:"deleted,omitempty"`
	// Field is the JSON path of a config, history, manifest or index string, such as
	// `config.Env[2]` or `annotations["org.example"]`.
	Field string `json:"field,omitempty"`
	// History is the index in the config's history, for KindHistory.
	History *int `json:"history,omitempty"`
	// Key is the annotation key, when Field is an annotation.
	Key string `json:"key,omitempty"`
	// Compression is the compression of a KindFile file that was searched decompressed.
	Compression string `json:"compression,omitempty"`
	// Offset is the byte offset of the match: in the file's content (KindLayer,
	// KindFile), in the tar header region (Header), in the string (Field), or in the
	// uncompressed layer stream when Path is empty.
	Offset int64 `json:"offset"`
}

// Leaked reports whether the audit found anything.
func (r *Report) Leaked() bool { return len(r.Findings) > 0 }

func (l Location) String() string {
	var b strings.Builder
	if l.Image != "" {
		fmt.Fprintf(&b, "image %s ", l.Image)
	}
	switch l.Kind {
	case KindLayer:
		fmt.Fprintf(&b, "layer %s", l.Layer)
		if l.Path != "" {
			fmt.Fprintf(&b, " %s", l.Path)
		}
		if l.Header {
			b.WriteString(" (tar header)")
		} else {
			fmt.Fprintf(&b, " @%d", l.Offset)
		}
		if l.Compression != "" {
			fmt.Fprintf(&b, " (%s-decompressed)", l.Compression)
		}
		if l.Deleted {
			b.WriteString(" (deleted by a later layer)")
		}
	case KindFile:
		fmt.Fprintf(&b, "file %s", l.Path)
		if l.Entry != "" {
			fmt.Fprintf(&b, " entry %s", l.Entry)
		}
		if l.Field != "" {
			fmt.Fprintf(&b, " (%s)", l.Field)
		} else if l.Header {
			b.WriteString(" (tar header)")
		} else {
			fmt.Fprintf(&b, " @%d", l.Offset)
		}
		if l.Compression != "" {
			fmt.Fprintf(&b, " (%s-decompressed)", l.Compression)
		}
	case KindAttestation:
		fmt.Fprintf(&b, "%s %s", l.Path, l.Field)
	default:
		fmt.Fprintf(&b, "%s %s", l.Kind, l.Field)
	}
	return b.String()
}

// WriteText writes the report for people: one line per finding, then a summary.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, f := range r.Findings {
		what := "secret " + strconv.Quote(f.Secret)
		if f.Rule != "" {
			what = "credential " + f.Rule
		}
		enc := ""
		if f.Encoding != "" && f.Encoding != "raw" {
			enc = " as " + f.Encoding
		}
		count := ""
		if f.Count > 1 {
			count = fmt.Sprintf(" (%d times)", f.Count)
		}
		fmt.Fprintf(&b, "LEAK: %s%s in %s%s [%s]\n", what, enc, f.Location, count, f.Fingerprint)
	}
	for _, wn := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", wn)
	}
	d := time.Duration(r.Stats.DurationMS) * time.Millisecond
	verdict := "clean"
	if r.Leaked() {
		verdict = fmt.Sprintf("%d finding(s)", len(r.Findings))
	}
	skipped := ""
	if len(r.Skipped) > 0 {
		skipped = fmt.Sprintf(" (%d more too short to search for)", len(r.Skipped))
	}
	fmt.Fprintf(&b, "audit %s: %s; %d secret(s)%s%s, %d layer(s), %d file(s), %.1f MiB in %s\n",
		r.Target, verdict, len(r.Secrets), skipped, map[bool]string{true: " + detect", false: ""}[r.Detect],
		r.Stats.Layers, r.Stats.Files, float64(r.Stats.Bytes)/(1<<20), d.Round(time.Millisecond))
	_, err := io.WriteString(w, b.String())
	return err
}

// findingKey groups occurrences of one thing at one place.
type findingKey struct {
	secret, rule, encoding, kind, image, layer, path, entry, field, compression string
	header                                                                      bool
}

// addFindings merges fs into r, counting repeats at the same place, and sorts.
func (r *Report) addFindings(fs []Finding) {
	idx := map[findingKey]int{}
	key := func(f Finding) findingKey {
		l := f.Location
		return findingKey{f.Secret, f.Rule, f.Encoding, l.Kind, l.Image, l.Layer, l.Path, l.Entry, l.Field, l.Compression, l.Header}
	}
	for i, f := range r.Findings {
		idx[key(f)] = i
	}
	for _, f := range fs {
		k := key(f)
		if i, ok := idx[k]; ok {
			r.Findings[i].Count += f.Count
			if f.Location.Offset < r.Findings[i].Location.Offset {
				r.Findings[i].Location.Offset = f.Location.Offset
			}
			continue
		}
		idx[k] = len(r.Findings)
		r.Findings = append(r.Findings, f)
	}
}

// sortFindings orders findings by place, then secret, then encoding, for stable output.
func (r *Report) sortFindings(layerOrder map[string]int) {
	kindOrder := map[string]int{KindIndex: 0, KindManifest: 1, KindConfig: 2, KindHistory: 3, KindLayer: 4, KindFile: 5}
	sort.SliceStable(r.Findings, func(i, j int) bool {
		a, b := r.Findings[i], r.Findings[j]
		la, lb := a.Location, b.Location
		switch {
		case la.Image != lb.Image:
			return la.Image < lb.Image
		case la.Kind != lb.Kind:
			return kindOrder[la.Kind] < kindOrder[lb.Kind]
		case la.Layer != lb.Layer:
			return layerOrder[la.Layer] < layerOrder[lb.Layer]
		case histIndex(la) != histIndex(lb):
			return histIndex(la) < histIndex(lb)
		case la.Path != lb.Path:
			return la.Path < lb.Path
		case la.Entry != lb.Entry:
			return la.Entry < lb.Entry
		case la.Field != lb.Field:
			return la.Field < lb.Field
		case la.Offset != lb.Offset:
			return la.Offset < lb.Offset
		case a.Secret != b.Secret:
			return a.Secret < b.Secret
		case a.Rule != b.Rule:
			return a.Rule < b.Rule
		}
		return a.Encoding < b.Encoding
	})
}

func histIndex(l Location) int {
	if l.History == nil {
		return -1
	}
	return *l.History
}
