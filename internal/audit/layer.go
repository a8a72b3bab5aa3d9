package audit

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// decompressed returns the uncompressed stream of r (gzip, zstd or plain) and the name
// of the compression found by its magic bytes.
func decompressed(r io.Reader) (io.Reader, string, func(), error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, "", nil, fmt.Errorf("reading stream header: %w", err)
	}
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, "", nil, fmt.Errorf("opening gzip stream: %w", err)
		}
		return zr, "gzip", func() { zr.Close() }, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<30))
		if err != nil {
			return nil, "", nil, fmt.Errorf("opening zstd stream: %w", err)
		}
		return zr, "zstd", zr.Close, nil
	}
	return br, "", func() {}, nil
}

// entrySpan is where one tar entry's header region and content lie in the stream.
type entrySpan struct {
	name      string
	hdrStart  int64
	dataStart int64
	size      int64
}

// layerResult is what scanning one layer found.
type layerResult struct {
	findings  []Finding
	bytes     int64
	files     int64
	paths     map[string]bool // every entry path (for deleted-by-later-layer)
	whiteouts []string        // paths removed by this layer
	opaques   []string        // directories whose lower contents this layer hides
	warnings  []string
}

// scanTar searches one (possibly compressed) layer or file stream: every byte of the
// uncompressed stream once, with hits mapped back to tar entries when it is a tar.
func (m *matcher) scanTar(ctx context.Context, r io.Reader, bufSize int, base Location) (*layerResult, error) {
	dec, comp, closeDec, err := decompressed(r)
	if err != nil {
		return nil, err
	}
	defer closeDec()
	st := newStream(ctx, dec, m, bufSize)
	res := &layerResult{paths: map[string]bool{}}
	if base.Kind == KindFile {
		base.Compression = comp
	}
	var spans []entrySpan
	var extra []Finding // file-rule findings and findings inside gzip files
	nested := &gzipBudget{left: maxGzipPerLayer}
	tr := tar.NewReader(st)
	tarOK := false
	for {
		var hdrStart int64
		if n := len(spans); n > 0 {
			prev := spans[n-1]
			hdrStart = prev.dataStart + (prev.size+511)&^511
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			tarOK = true
			break
		}
		if err != nil {
			if st.err != nil {
				return nil, st.err
			}
			if len(spans) > 0 || hdrStart > 0 {
				res.warnings = append(res.warnings, fmt.Sprintf("%s: reading tar after %d entries: %v; the rest was searched as a plain stream", base.short(), len(spans), err))
			}
			break
		}
		name := cleanPath(hdr.Name)
		dataStart := st.pos()
		spans = append(spans, entrySpan{name: name, hdrStart: min(hdrStart, dataStart), dataStart: dataStart, size: hdr.Size})
		res.note(name)
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		fs, err := m.entryFindings(ctx, tr, hdr.Size, bufSize, base, spans[len(spans)-1], nested)
		if err != nil {
			return nil, err
		}
		extra = append(extra, fs...)
	}
	res.warnings = append(res.warnings, nested.warnings(base)...)
	if err := st.drain(); err != nil {
		return nil, err
	}
	res.bytes = st.base + int64(st.w)
	if st.dropped > 0 {
		res.warnings = append(res.warnings, fmt.Sprintf("%s: %d more matches not itemised", base.short(), st.dropped))
	}
	if st.unverified > 0 {
		res.warnings = append(res.warnings, fmt.Sprintf("%s: %d candidate matches not verified (more than %d at once)", base.short(), st.unverified, maxTrackers))
	}
	for _, h := range st.hits {
		loc := base
		loc.Offset = h.start
		if tarOK || len(spans) > 0 {
			locate(&loc, spans, h.start)
		}
		res.findings = append(res.findings, m.finding(h, loc))
	}
	res.findings = append(res.findings, extra...)
	return res, nil
}

// note records a tar entry: a path, a whiteout or an opaque-dir marker.
func (res *layerResult) note(name string) {
	res.files++
	dir, file := path.Split(name)
	switch {
	case file == ".wh..wh..opq":
		res.opaques = append(res.opaques, strings.TrimSuffix(dir, "/"))
	case strings.HasPrefix(file, ".wh."):
		res.whiteouts = append(res.whiteouts, dir+strings.TrimPrefix(file, ".wh."))
	default:
		res.paths[name] = true
	}
}

// fileFinding checks the regular file at the reader's current entry against the file
// rules (credential files); nil when none matches.
// entryFindings are a regular file's findings beyond the stream search: a credential
// file's rule, or the values inside a gzip file of a layer.
func (m *matcher) entryFindings(ctx context.Context, tr *tar.Reader, size int64, bufSize int, base Location, span entrySpan, nested *gzipBudget) ([]Finding, error) {
	if m.credentialPath(span.name) {
		f, err := m.fileFinding(tr, span.name, base, span)
		if err != nil || f == nil {
			return nil, err
		}
		return []Finding{*f}, nil
	}
	if base.Kind != KindLayer || size <= 2 {
		return nil, nil
	}
	loc := base
	locate(&loc, []entrySpan{span}, span.dataStart)
	fs, err := nested.scan(ctx, m, tr, size, bufSize, loc)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", span.name, err)
	}
	return fs, nil
}

func (m *matcher) fileFinding(tr *tar.Reader, name string, base Location, span entrySpan) (*Finding, error) {
	rule, fp, err := m.checkFile(name, func() ([]byte, error) {
		return io.ReadAll(io.LimitReader(tr, maxCredentialFile))
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if rule == "" {
		return nil, nil
	}
	loc := base
	locate(&loc, []entrySpan{span}, span.dataStart)
	return &Finding{Rule: rule, Fingerprint: fp, Location: loc, Count: 1}, nil
}

// locate sets loc's path and offset for a hit at stream offset at.
func locate(loc *Location, spans []entrySpan, at int64) {
	// The last entry whose header region starts at or before at.
	i := sort.Search(len(spans), func(i int) bool { return spans[i].hdrStart > at }) - 1
	if i < 0 {
		return
	}
	e := spans[i]
	if loc.Kind == KindFile {
		loc.Entry = e.name
	} else {
		loc.Path = e.name
	}
	switch {
	case at < e.dataStart:
		loc.Header = true
		loc.Offset = at - e.hdrStart
	case at < e.dataStart+e.size:
		loc.Offset = at - e.dataStart
	default: // padding or the end-of-archive blocks after the last entry
		loc.Header = true
		loc.Offset = at - e.hdrStart
	}
}

func cleanPath(name string) string {
	return path.Clean("/" + name)
}

func (l Location) short() string {
	if l.Layer != "" {
		return "layer " + l.Layer
	}
	return l.Path
}
