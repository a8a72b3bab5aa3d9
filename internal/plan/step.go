package plan

import (
	"path"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// Kind says what executing a step takes.
type Kind int

const (
	// Meta steps only change the image config and history.
	Meta Kind = iota
	// Run steps execute a process in the runtime.
	Run
	// Copy steps (COPY, ADD) write files into a new layer.
	Copy
	// Mkdir steps (WORKDIR) create a directory if it is missing.
	Mkdir
)

// Step is one expanded instruction, ready to execute.
type Step struct {
	Kind Kind
	// Name is the instruction as progress shows it ("RUN echo hi").
	Name string
	// CreatedBy is the history line, BuildKit's spelling; "" for an instruction that
	// leaves no history entry (ONBUILD).
	CreatedBy string
	Line      int

	// Args, Env, User and Workdir describe the process of a Run step (Workdir and User
	// also apply to Copy and Mkdir).
	Args    []string
	Env     []string
	User    string
	Workdir string
	Mounts  []*instructions.Mount
	Network string
	// Security is RUN --security: "insecure" or "sandbox" ("" when not given).
	Security string
	// Script is an inline shebang heredoc to run as a file at ScriptPath (which Args
	// hand to the shell, as BuildKit does).
	Script *instructions.ShellInlineFile

	// Copy is set for Copy steps.
	Copy *CopySpec
	// Dir is the directory a Mkdir step creates.
	Dir string
}

// CopySpec is an expanded COPY or ADD.
type CopySpec struct {
	Add        bool
	Sources    []string
	Contents   []instructions.SourceContent
	Dest       string // as written, relative dests resolve against Step.Workdir
	From       string // stage name/index or image; "" = build context
	FromStage  *Stage
	Chown      string
	Chmod      string
	Link       bool
	Parents    bool
	Excludes   []string
	KeepGitDir bool
	Checksum   string
	Unpack     *bool
}

// ScriptDir is where a RUN's shebang heredoc is mounted, as in BuildKit.
const ScriptDir = "/dev/pipes"

// ScriptPath is the path Script is mounted at in the step's container.
func (s *Step) ScriptPath() string {
	if s.Script == nil {
		return ""
	}
	return path.Join(ScriptDir, s.Script.Name)
}
