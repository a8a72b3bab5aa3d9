package dockerfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// MaxLineBytes is the longest line BuildKit's parser reads: its bufio.Scanner's token
// limit less the newline (a "\r" before the newline counts). A longer line is an error
// there and here; an instruction continued over many lines may be longer.
const MaxLineBytes = bufio.MaxScanTokenSize - 1

// File is a parsed Dockerfile.
type File struct {
	// Name is the file name used in error messages ("Dockerfile").
	Name string
	// Stages in source order; their commands are BuildKit instruction types.
	Stages []instructions.Stage
	// MetaArgs are the ARGs before the first FROM.
	MetaArgs []instructions.ArgCommand
	// EscapeToken is the escape character (`\` or "`").
	EscapeToken rune
	// Warnings are the parser's and linter's warnings, with locations.
	Warnings []Warning
	// Source is the raw text, kept for lint checks that need it.
	Source []byte
	// nodes maps each command of Stages to the syntax node it was parsed from.
	nodes map[instructions.Command]*parser.Node
}

// Warning is one parse or lint warning: a BuildKit build check.
type Warning struct {
	Rule    string
	Message string
	Line    int
	// EndLine is the last line of the instruction it is about; Description and URL are
	// the rule's.
	EndLine          int
	Description, URL string
}

func (w Warning) String() string {
	if w.Rule != "" {
		return fmt.Sprintf("%s: %s (line %d)", w.Rule, w.Message, w.Line)
	}
	return fmt.Sprintf("%s (line %d)", w.Message, w.Line)
}

// SyntaxError is a Dockerfile that cannot be parsed; it names the file and line.
type SyntaxError struct {
	File string
	Line int
	Err  error
}

func (e *SyntaxError) Error() string {
	msg := elide(e.Err.Error())
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, msg)
	}
	return fmt.Sprintf("%s: %s", e.File, msg)
}

// elide shortens a message that quotes a long piece of the Dockerfile (BuildKit's
// messages quote whole words) by cutting out its middle.
func elide(msg string) string {
	const head, tail = 160, 80
	if len(msg) <= head+tail+64 {
		return msg
	}
	cut := len(msg) - head - tail
	return strings.ToValidUTF8(fmt.Sprintf("%s…(%d bytes elided)…%s", msg[:head], cut, msg[len(msg)-tail:]), "")
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// Parse reads a Dockerfile named name (for messages) from r.
func Parse(name string, r io.Reader) (*File, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if err := checkLineLengths(name, src); err != nil {
		return nil, err
	}
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, syntaxError(name, err)
	}
	f := &File{Name: name, EscapeToken: res.EscapeToken, Source: src}
	lint := newLinter(src, func(w Warning) { f.Warnings = append(f.Warnings, w) })
	for _, w := range res.Warnings {
		if w.URL == linter.RuleNoEmptyContinuation.URL && w.Location != nil {
			lint.Run(&linter.RuleNoEmptyContinuation, []parser.Range{*w.Location}, linter.RuleNoEmptyContinuation.Format())
		}
	}
	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	if err != nil {
		return nil, syntaxError(name, err)
	}
	runChecks(lint, stages, metaArgs, res.EscapeToken)
	if len(stages) == 0 {
		return nil, &SyntaxError{File: name, Err: errors.New("file with no instructions")}
	}
	f.Stages, f.MetaArgs = stages, metaArgs
	if f.nodes, err = commandNodes(res.AST, stages, len(metaArgs)); err != nil {
		return nil, &SyntaxError{File: name, Err: err}
	}
	return f, nil
}

// newLinter is BuildKit's linter for the Dockerfile src, with its "# check=" directive
// applied (a bad directive is hush lint's InvalidCheckDirective, not a parse error).
func newLinter(src []byte, warn func(Warning)) *linter.Linter {
	cfg := &linter.Config{}
	if v, _, _, ok := parser.ParseDirective("check", src); ok {
		if c, err := linter.ParseLintOptions(v); err == nil {
			cfg = c
		}
	}
	cfg.ReturnAsError = false
	cfg.Warn = func(rule, desc, url, msg string, loc []parser.Range) {
		w := Warning{Rule: rule, Message: msg, Description: desc, URL: url}
		if len(loc) > 0 {
			w.Line, w.EndLine = loc[0].Start.Line, loc[len(loc)-1].End.Line
		}
		warn(w)
	}
	return linter.New(cfg)
}

// commandNodes pairs each command of stages with its node in ast, which holds one child
// per meta ARG, FROM and command, in order (as instructions.Parse reads them).
func commandNodes(ast *parser.Node, stages []instructions.Stage, metaArgs int) (map[instructions.Command]*parser.Node, error) {
	nodes := map[instructions.Command]*parser.Node{}
	next := metaArgs
	for _, st := range stages {
		next++ // the FROM
		for _, c := range st.Commands {
			if next >= len(ast.Children) || !strings.EqualFold(ast.Children[next].Value, c.Name()) {
				return nil, fmt.Errorf("internal error: instruction %s does not match the syntax tree", c.Name())
			}
			nodes[c] = ast.Children[next]
			next++
		}
	}
	if next != len(ast.Children) {
		return nil, fmt.Errorf("internal error: %d instructions for %d syntax nodes", next, len(ast.Children))
	}
	return nodes, nil
}

// Reparse returns a new parse of c, one of f's commands, that shares nothing mutable
// with c: BuildKit's Expand methods rewrite a command in place (RUN keeps its unexpanded
// --mount options where only Expand reaches them), so whoever must call one calls it on a
// copy and f stays as parsed. ok is false when c is not one of f's commands. (It parsed
// once, so it parses again; an error, which the caller places at c's line, means a bug.)
func (f *File) Reparse(c instructions.Command) (fresh instructions.Command, ok bool, err error) {
	n, ok := f.nodes[c]
	if !ok {
		return nil, false, nil
	}
	fresh, err = instructions.ParseCommand(n)
	if err != nil {
		return nil, true, fmt.Errorf("internal error: parsing %s again: %w", strings.ToUpper(c.Name()), err)
	}
	return fresh, true, nil
}

// checkLineLengths fails at the first line longer than MaxLineBytes, naming the line its
// instruction starts on. (BuildKit's own error names a neighbouring line, or none at all
// when the long line comes first, or claims an unterminated heredoc.)
func checkLineLengths(name string, src []byte) error {
	n, size := longLine(src)
	if n == 0 {
		return nil
	}
	start := instructionStart(src, n)
	err := fmt.Errorf("line is %d bytes long, more than the %d bytes a Dockerfile line may have", size, MaxLineBytes)
	if start != n {
		err = fmt.Errorf("line %d is %d bytes long, more than the %d bytes a Dockerfile line may have", n, size, MaxLineBytes)
	}
	return &SyntaxError{File: name, Line: start, Err: err}
}

// longLine returns the number and length of the first line longer than MaxLineBytes, or 0.
func longLine(src []byte) (n, size int) {
	for n = 1; len(src) > 0; n++ {
		line, rest, _ := bytes.Cut(src, []byte("\n"))
		if len(line) > MaxLineBytes {
			return n, len(line)
		}
		src = rest
	}
	return 0, 0
}

// instructionStart returns the first line of the instruction that holds line n, or n when
// none does. It parses src with every over-long line shortened to its first and last
// bytes, which keeps a keyword, a comment mark and a trailing continuation what they were.
func instructionStart(src []byte, n int) int {
	const keep = 64
	var short bytes.Buffer
	for len(src) > 0 {
		line, rest, found := bytes.Cut(src, []byte("\n"))
		if len(line) > MaxLineBytes {
			short.Write(line[:keep])
			short.WriteByte(' ')
			line = line[len(line)-keep:]
		}
		short.Write(line)
		if found {
			short.WriteByte('\n')
		}
		src = rest
	}
	res, err := parser.Parse(&short)
	if err != nil {
		return n
	}
	for _, c := range res.AST.Children {
		if c.StartLine <= n && n <= c.EndLine {
			return c.StartLine
		}
	}
	return n
}

// syntaxError extracts the first source line BuildKit attached to err.
func syntaxError(name string, err error) error {
	se := &SyntaxError{File: name, Err: err}
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		se.Line = le.Locations[0][0].Start.Line
		se.Err = le.Unwrap()
	}
	var ue *instructions.UnknownInstructionError
	if errors.As(err, &ue) {
		se.Line = ue.Line
		se.Err = fmt.Errorf("unknown instruction: %s", ue.Instruction)
	}
	return se
}

// Line returns the first line of a command's location, or 0.
func Line(c interface{ Location() []parser.Range }) int {
	if loc := c.Location(); len(loc) > 0 {
		return loc[0].Start.Line
	}
	return 0
}
