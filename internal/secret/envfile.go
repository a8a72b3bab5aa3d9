package secret

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// EnvVar is one KEY=value of an env file.
type EnvVar struct {
	Key   string
	Value []byte
}

// ErrEnvFile is wrapped by every ParseEnvFile syntax error. Errors name the line and the
// key, never a value.
var ErrEnvFile = errors.New("invalid env file")

// ParseEnvFile reads dotenv-style KEY=value lines:
//
//   - blank lines and lines starting with # are skipped; an optional `export ` prefix is
//     allowed; keys are [A-Za-z_][A-Za-z0-9_.-]*;
//   - unquoted values are trimmed and run to the end of the line (no inline comments, as
//     in docker's --env-file, so a value holding " #" is kept whole);
//   - 'single-quoted' values are literal; "double-quoted" values understand \n \r \t \" \\
//     and \$; both may span lines; after the closing quote only a comment may follow;
//   - there is no variable expansion.
//
// A key given twice keeps its last value; order of first appearance is kept.
func ParseEnvFile(r io.Reader) ([]EnvVar, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading env file: %w", err)
	}
	defer clear(data)
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: larger than %d MiB", ErrEnvFile, MaxSize>>20)
	}
	p := &envParser{data: data, line: 1}
	var out []EnvVar
	index := map[string]int{}
	for {
		v, ok, err := p.next()
		if err != nil {
			for _, e := range out {
				clear(e.Value)
			}
			return nil, err
		}
		if !ok {
			return out, nil
		}
		if i, dup := index[v.Key]; dup {
			clear(out[i].Value)
			out[i].Value = v.Value
			continue
		}
		index[v.Key] = len(out)
		out = append(out, v)
	}
}

type envParser struct {
	data []byte
	pos  int
	line int
}

func (p *envParser) errf(format string, args ...any) error {
	return fmt.Errorf("%w: line %d: %s", ErrEnvFile, p.line, fmt.Sprintf(format, args...))
}

func (p *envParser) peek() (byte, bool) {
	if p.pos >= len(p.data) {
		return 0, false
	}
	return p.data[p.pos], true
}

func (p *envParser) skipSpace() {
	for c, ok := p.peek(); ok && (c == ' ' || c == '\t'); c, ok = p.peek() {
		p.pos++
	}
}

// restOfLine consumes up to and including the next newline and returns the content.
func (p *envParser) restOfLine() []byte {
	start := p.pos
	i := bytes.IndexByte(p.data[p.pos:], '\n')
	if i < 0 {
		p.pos = len(p.data)
		return p.data[start:]
	}
	p.pos += i + 1
	p.line++
	return p.data[start : start+i]
}

func isKeyByte(c byte, first bool) bool {
	return c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' ||
		!first && (c >= '0' && c <= '9' || c == '.' || c == '-')
}

func (p *envParser) next() (EnvVar, bool, error) {
	for {
		p.skipSpace()
		c, ok := p.peek()
		if !ok {
			return EnvVar{}, false, nil
		}
		if c == '\n' || c == '\r' || c == '#' {
			p.restOfLine()
			continue
		}
		break
	}
	if bytes.HasPrefix(p.data[p.pos:], []byte("export ")) || bytes.HasPrefix(p.data[p.pos:], []byte("export\t")) {
		p.pos += len("export")
		p.skipSpace()
	}
	start := p.pos
	for c, ok := p.peek(); ok && isKeyByte(c, p.pos == start); c, ok = p.peek() {
		p.pos++
	}
	key := string(p.data[start:p.pos])
	if key == "" {
		return EnvVar{}, false, p.errf("expected a variable name")
	}
	p.skipSpace()
	if c, ok := p.peek(); !ok || c != '=' {
		// No key name in the message: a line without "=" may be a raw secret.
		return EnvVar{}, false, p.errf("expected NAME=value")
	}
	p.pos++
	p.skipSpace()
	c, _ := p.peek()
	var val []byte
	var err error
	switch c {
	case '\'', '"':
		val, err = p.quoted(key, c)
		if err != nil {
			return EnvVar{}, false, err
		}
		p.skipSpace()
		line := p.line
		rest := bytes.TrimRight(p.restOfLine(), "\r")
		if len(rest) > 0 && rest[0] != '#' {
			clear(val)
			p.line = line
			return EnvVar{}, false, p.errf("%s: unexpected text after the closing quote", key)
		}
	default:
		// Unquoted values run to the end of the line, as in docker's --env-file: a
		// secret containing " #" is never cut short by an "inline comment".
		raw := bytes.TrimRight(p.restOfLine(), "\r")
		val = bytes.Clone(bytes.TrimSpace(raw))
	}
	return EnvVar{Key: key, Value: val}, true, nil
}

// quoted reads a quoted value starting at the opening quote q.
func (p *envParser) quoted(key string, q byte) ([]byte, error) {
	startLine := p.line
	p.pos++
	var out []byte
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		p.pos++
		switch {
		case c == q:
			return out, nil
		case c == '\n':
			p.line++
			out = append(out, c)
		case c == '\\' && q == '"' && p.pos < len(p.data):
			e := p.data[p.pos]
			p.pos++
			switch e {
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case '"', '\\', '$':
				out = append(out, e)
			case '\n':
				p.line++
				out = append(out, '\\', '\n')
			default:
				out = append(out, '\\', e)
			}
		default:
			out = append(out, c)
		}
	}
	clear(out)
	p.line = startLine
	return nil, p.errf("%s: unterminated %c-quoted value", key, q)
}
