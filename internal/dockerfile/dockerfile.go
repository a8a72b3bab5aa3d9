package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

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
}

// Warning is one parse or lint warning.
type Warning struct {
	Rule    string
	Message string
	Line    int
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
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// Parse reads a Dockerfile named name (for messages) from r.
func Parse(name string, r io.Reader) (*File, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, syntaxError(name, err)
	}
	f := &File{Name: name, EscapeToken: res.EscapeToken, Source: src}
	for _, w := range res.Warnings {
		line := 0
		if w.Location != nil {
			line = w.Location.Start.Line
		}
		f.Warnings = append(f.Warnings, Warning{Rule: w.URL, Message: w.Short, Line: line})
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, loc []parser.Range) {
		line := 0
		if len(loc) > 0 {
			line = loc[0].Start.Line
		}
		f.Warnings = append(f.Warnings, Warning{Rule: rule, Message: msg, Line: line})
	}})
	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	if err != nil {
		return nil, syntaxError(name, err)
	}
	if len(stages) == 0 {
		return nil, &SyntaxError{File: name, Err: errors.New("file with no instructions")}
	}
	f.Stages, f.MetaArgs = stages, metaArgs
	return f, nil
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
