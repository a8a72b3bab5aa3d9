package progress

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
)

// ModeRawJSON prints BuildKit's solve status events as JSON, one object a line (buildx's
// --progress=rawjson), for programs to read.
const ModeRawJSON = "rawjson"

// ModeNone prints no progress at all (buildx's --progress=none); failed steps' output is
// still shown at Close, as in quiet mode.
const ModeNone = "none"

// The JSON shapes of BuildKit's client.SolveStatus, with its field names and tags.
type (
	rawStatus struct {
		Vertexes []rawVertex       `json:"vertexes,omitempty"`
		Statuses []rawVertexStatus `json:"statuses,omitempty"`
		Logs     []rawLog          `json:"logs,omitempty"`
		Warnings []rawWarning      `json:"warnings,omitempty"`
	}
	rawVertex struct {
		Digest    string     `json:"digest,omitempty"`
		Name      string     `json:"name,omitempty"`
		Started   *time.Time `json:"started,omitempty"`
		Completed *time.Time `json:"completed,omitempty"`
		Cached    bool       `json:"cached,omitempty"`
		Error     string     `json:"error,omitempty"`
	}
	rawLog struct {
		Vertex    string    `json:"vertex,omitempty"`
		Stream    int       `json:"stream,omitempty"`
		Data      []byte    `json:"data"`
		Timestamp time.Time `json:"timestamp"`
	}
	rawWarning struct {
		Level int    `json:"level,omitempty"`
		Short []byte `json:"short,omitempty"`
	}
)

// digest is the step's vertex digest: BuildKit's are LLB digests; hush's name the step
// by its place and name, so they are stable across runs of the same build.
func (s *Step) digest() string {
	sum := sha256.Sum256([]byte(strconv.Itoa(s.index) + "\x00" + s.name))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// vertex is the step's vertex as BuildKit reports it now.
func (s *Step) vertex() rawVertex {
	start := s.start
	v := rawVertex{Digest: s.digest(), Name: s.name, Started: &start}
	if s.state != stateRunning {
		end := s.end
		v.Completed = &end
		v.Cached = s.state == stateCached
		if s.state == stateError || s.state == stateCanceled {
			v.Error = s.errMsg
		}
	}
	return v
}

// encodeRaw writes one status line.
func encodeRaw(b *bytes.Buffer, st rawStatus) {
	_ = json.NewEncoder(b).Encode(st) // the types above always encode
}

// rawLine reports one whole output line of s (stream 1, stdout, as BuildKit's logs).
func rawLine(b *bytes.Buffer, s *Step, l line) {
	encodeRaw(b, rawStatus{Logs: []rawLog{{Vertex: s.digest(), Stream: 1, Data: []byte(l.text + "\n"),
		Timestamp: s.start.Add(l.at).UTC()}}})
}
