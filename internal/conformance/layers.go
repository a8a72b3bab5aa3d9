package conformance

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Entry is one tar entry of a layer: what a Dockerfile decides about a path.
type Entry struct {
	Path   string // clean, relative, no leading "./"
	Type   string // file, dir, symlink, hardlink, char, block, fifo
	Mode   int64  // permission and special bits
	UID    int
	GID    int
	Size   int64
	Link   string            // symlink or hard link target
	Sum    string            // sha256 of a file's content
	Xattrs map[string]string // names and value digests
}

func (e Entry) String() string {
	s := fmt.Sprintf("%s %s %04o %d:%d", e.Path, e.Type, e.Mode, e.UID, e.GID)
	switch e.Type {
	case "file":
		s += fmt.Sprintf(" %d sha256:%s", e.Size, e.Sum)
	case "symlink", "hardlink":
		s += " -> " + e.Link
	}
	keys := make([]string, 0, len(e.Xattrs))
	for k := range e.Xattrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s += " xattr:" + k + "=" + e.Xattrs[k]
	}
	return s
}

var tarTypes = map[byte]string{tar.TypeReg: "file", tar.TypeDir: "dir", tar.TypeSymlink: "symlink",
	tar.TypeLink: "hardlink", tar.TypeChar: "char", tar.TypeBlock: "block", tar.TypeFifo: "fifo"}

// readLayer lists a layer blob's entries, sorted by path.
func readLayer(blob []byte, mt types.MediaType) ([]Entry, error) {
	var r io.Reader = bytes.NewReader(blob)
	switch {
	case strings.HasSuffix(string(mt), "gzip") || mt == types.DockerLayer:
		gz, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("decompressing layer: %w", err)
		}
		defer gz.Close()
		r = gz
	case mt == types.OCIUncompressedLayer || mt == types.DockerUncompressedLayer:
	default:
		return nil, fmt.Errorf("layer media type %s is not supported", mt)
	}
	var out []Entry
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading layer: %w", err)
		}
		e, err := entry(h, tr)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func entry(h *tar.Header, r io.Reader) (Entry, error) {
	e := Entry{Path: cleanName(h.Name), Type: tarTypes[h.Typeflag], Mode: h.Mode & 0o7777,
		UID: h.Uid, GID: h.Gid}
	if e.Type == "" {
		e.Type = fmt.Sprintf("type-%q", h.Typeflag)
	}
	switch h.Typeflag {
	case tar.TypeReg:
		sum := sha256.New()
		n, err := io.Copy(sum, r)
		if err != nil {
			return e, fmt.Errorf("reading %s: %w", h.Name, err)
		}
		e.Size, e.Sum = n, hex.EncodeToString(sum.Sum(nil))
	case tar.TypeSymlink:
		e.Link = h.Linkname
	case tar.TypeLink:
		e.Link = cleanName(h.Linkname)
	}
	for k, v := range h.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if e.Xattrs == nil {
				e.Xattrs = map[string]string{}
			}
			sum := sha256.Sum256([]byte(v))
			e.Xattrs[name] = hex.EncodeToString(sum[:8])
		}
	}
	return e, nil
}

// cleanName is a tar entry name without "./", leading or trailing slashes.
func cleanName(name string) string {
	p := path.Clean("/" + name)
	if p == "/" {
		return "."
	}
	return p[1:]
}
