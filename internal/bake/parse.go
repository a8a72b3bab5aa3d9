package bake

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"

	"github.com/docker/buildx/bake/hclparser"
	"github.com/hashicorp/hcl/v2"
)

// File is one definition file, read.
type File struct {
	Name string
	Data []byte
}

// DefaultFileNames are the files read when none is named, in buildx's order (later
// files are laid over earlier ones).
var DefaultFileNames = []string{
	"compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml",
	"docker-bake.json", "docker-bake.hcl", "docker-bake.override.json", "docker-bake.override.hcl",
}

// maxFileBytes bounds a definition file.
const maxFileBytes = 16 << 20

// ReadLocalFiles reads the files named ("-" is stdin), or the default files that exist
// when names is empty.
func ReadLocalFiles(names []string, stdin io.Reader) ([]File, error) {
	isDefault := len(names) == 0
	if isDefault {
		names = DefaultFileNames
	}
	var out []File
	for _, n := range names {
		var r io.Reader = stdin
		if n != "-" {
			f, err := os.Open(n)
			if isDefault && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, err
			}
			defer f.Close()
			r = f
		}
		data, err := io.ReadAll(io.LimitReader(r, maxFileBytes+1))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", n, err)
		}
		if len(data) > maxFileBytes {
			return nil, fmt.Errorf("reading %s: larger than %d MiB", n, maxFileBytes>>20)
		}
		out = append(out, File{Name: n, Data: data})
	}
	return out, nil
}

// Env is where a definition's variables come from.
type Env struct {
	// Lookup reads the environment (os.LookupEnv); nil: an empty environment.
	Lookup func(string) (string, bool)
	// Environ lists it (os.Environ), for compose interpolation.
	Environ func() []string
	// Getwd is the directory a compose .env file is read from.
	Getwd func() (string, error)
	// Defaults are built-in variables (BAKE_CMD_CONTEXT, BAKE_LOCAL_PLATFORM).
	Defaults map[string]string
	// Vars are --var values: they win over the environment.
	Vars map[string]string
}

// lookupAllowed reports whether variables may be read from the environment
// (BUILDX_BAKE_DISABLE_VARS_ENV_LOOKUP turns that off, as in buildx).
func (e Env) lookupAllowed() bool {
	if e.Lookup == nil {
		return false
	}
	if v, ok := e.Lookup("BUILDX_BAKE_DISABLE_VARS_ENV_LOOKUP"); ok {
		if off, err := strconv.ParseBool(v); err == nil && off {
			return false
		}
	}
	return true
}

func (e Env) lookupVar(key string) (string, bool) {
	if v, ok := e.Vars[key]; ok {
		return v, true
	}
	if e.lookupAllowed() {
		return e.Lookup(key)
	}
	return "", false
}

// ParseFiles parses the files into one definition: compose files first (merged by
// compose's rules), then every HCL and JSON file as one body, as buildx does. The meta
// lists the variables (--list variables).
func ParseFiles(files []File, env Env) (*Config, *hclparser.ParseMeta, error) {
	var c Config
	var composeFiles []File
	var hclFiles []*hcl.File
	for _, f := range files {
		isCompose, composeErr := validateComposeFile(f.Data, f.Name, env)
		if isCompose {
			if composeErr != nil {
				return nil, nil, fmt.Errorf("%s: %w", f.Name, composeErr)
			}
			composeFiles = append(composeFiles, f)
			continue
		}
		hf, isHCL, err := parseHCLFile(f.Data, f.Name)
		switch {
		case isHCL && err != nil:
			return nil, nil, err
		case isHCL:
			hclFiles = append(hclFiles, hf)
		case composeErr != nil:
			return nil, nil, fmt.Errorf("failed to parse %s: parsing yaml: %v, parsing hcl: %w", f.Name, composeErr, err)
		default:
			return nil, nil, err
		}
	}
	if len(composeFiles) > 0 {
		cfg, err := parseComposeFiles(composeFiles, env)
		if err != nil {
			return nil, nil, fmt.Errorf("failed to parse compose file: %w", err)
		}
		c = dedupeConfig(mergeConfig(c, *cfg))
	}
	pm := &hclparser.ParseMeta{}
	if len(hclFiles) > 0 {
		res, diags := hclparser.Parse(hclparser.MergeFiles(hclFiles), hclparser.Opt{
			LookupVar: env.lookupVar, Vars: env.Defaults, ValidateLabel: validateTargetName,
		}, &c)
		if diags.HasErrors() {
			return nil, nil, diags
		}
		for _, renamed := range res.Renamed {
			for oldName, newNames := range renamed {
				newNames = dedupSlice(newNames)
				if len(newNames) == 1 && oldName == newNames[0] {
					continue
				}
				c.Groups = append(c.Groups, &Group{Name: oldName, Targets: newNames})
			}
		}
		c = dedupeConfig(c)
		pm = res
	}
	return &c, pm, nil
}
