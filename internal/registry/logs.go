package registry

import (
	"bytes"
	"encoding/base64"
	"io"
	"sync"

	"github.com/docker/cli/cli/config/configfile"

	"github.com/hush-build/hush/internal/secret"
)

// maxLogBytes bounds how much of a generator's output is kept to be shown.
const maxLogBytes = 1 << 20

// logBuffer holds a generator's stdout and stderr until the credentials it minted are
// known, so they can be masked before anything is shown.
type logBuffer struct {
	mu       sync.Mutex
	stdout   bytes.Buffer
	stderr   bytes.Buffer
	overflow bool
}

type logStream struct {
	b   *logBuffer
	buf *bytes.Buffer
}

func (s logStream) Write(p []byte) (int, error) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if s.b.stdout.Len()+s.b.stderr.Len()+len(p) > maxLogBytes {
		s.b.overflow = true
		return len(p), nil
	}
	return s.buf.Write(p)
}

func (b *logBuffer) out() io.Writer { return logStream{b, &b.stdout} }
func (b *logBuffer) err() io.Writer { return logStream{b, &b.stderr} }

// emit writes what was kept to stdout and stderr (nil: dropped) with mask's values and
// their encodings replaced by secret.Mask.
func (b *logBuffer) emit(stdout, stderr io.Writer, mask [][]byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range []struct {
		w   io.Writer
		buf *bytes.Buffer
	}{{stdout, &b.stdout}, {stderr, &b.stderr}} {
		if s.w != nil && s.buf.Len() > 0 {
			s.w.Write(secret.Redact(s.buf.Bytes(), mask))
		}
	}
	if b.overflow && stderr != nil {
		io.WriteString(stderr, "(generator output past 1 MiB was dropped)\n")
	}
}

func (b *logBuffer) wipe() {
	b.mu.Lock()
	defer b.mu.Unlock()
	clear(b.stdout.Bytes())
	clear(b.stderr.Bytes())
}

// credentialValues lists every credential in c (and each user:password pair as docker's
// base64 "auth" field holds it), for masking.
func credentialValues(c *configfile.ConfigFile) [][]byte {
	var out [][]byte
	for _, e := range c.AuthConfigs {
		for _, v := range []string{e.Password, e.IdentityToken, e.RegistryToken} {
			if v != "" {
				out = append(out, []byte(v))
			}
		}
		if e.Password != "" {
			out = append(out, []byte(base64.StdEncoding.EncodeToString([]byte(e.Username+":"+e.Password))))
		}
	}
	return out
}
