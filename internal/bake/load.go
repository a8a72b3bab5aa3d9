package bake

import (
	"fmt"
	"io"
	"runtime"

	"github.com/docker/buildx/bake/hclparser"
)

// Options are what a bake command resolves.
type Options struct {
	// Files are the -f files ("-" is stdin); none: DefaultFileNames that exist.
	Files []string
	Stdin io.Reader
	// Targets are target or group names (patterns allowed); none: "default".
	Targets []string
	// Overrides are --set values.
	Overrides []string
	Env       Env
}

// LocalPlatform is BAKE_LOCAL_PLATFORM: the platform hush builds for.
func LocalPlatform() string {
	p := runtime.GOOS + "/" + runtime.GOARCH
	if runtime.GOARCH == "arm" {
		p += "/v7"
	}
	return p
}

// DefaultVars are buildx's built-in variables for a command run in the working directory.
func DefaultVars() map[string]string {
	return map[string]string{"BAKE_CMD_CONTEXT": "cwd://", "BAKE_LOCAL_PLATFORM": LocalPlatform()}
}

// ParseResult is what parsing learnt besides the definition.
type ParseResult struct {
	// Variables are the HCL variables with their values (--list variables).
	Variables []*hclparser.Variable
}

// Read reads and parses the definition files.
func Read(o Options) ([]File, *Config, *ParseResult, error) {
	files, err := ReadLocalFiles(o.Files, o.Stdin)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(files) == 0 {
		return nil, nil, nil, ErrNoDefinition
	}
	c, meta, err := ParseFiles(files, o.Env)
	if err != nil {
		return nil, nil, nil, err
	}
	return files, c, &ParseResult{Variables: meta.AllVariables}, nil
}

// Load reads the files and resolves the targets, finalized as `--print` shows them.
func Load(o Options) (*Definition, error) {
	_, c, _, err := Read(o)
	if err != nil {
		return nil, err
	}
	targets := o.Targets
	if len(targets) == 0 {
		targets = []string{"default"}
	}
	for _, t := range targets {
		if IsRemoteURL(t) {
			return nil, fmt.Errorf("%s: remote bake definitions are not supported yet; clone the repository and run hush bake in it", t)
		}
	}
	d, err := Resolve(c, append([]string(nil), targets...), o.Overrides)
	if err != nil {
		return nil, err
	}
	lookup := o.Env.Lookup
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	if err := d.Finalize(lookup); err != nil {
		return nil, err
	}
	return d, nil
}
