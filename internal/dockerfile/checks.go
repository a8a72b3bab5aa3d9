package dockerfile

import (
	"path"
	"strings"

	"github.com/containerd/platforms"
	reference "github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// BuildKit's build checks that its Dockerfile frontend runs while converting a
// Dockerfile, which need nothing but the Dockerfile: the same rules, names, messages and
// locations, through the same linter (so "# check=skip=…" applies). The rules that need
// the build's images or variables (InvalidBaseImagePlatform, UndefinedVar) are not run.

// maxCheckValue bounds a global ARG's expanded default while checking FROM lines: a
// Dockerfile that doubles values from ARG to ARG is not expanded further (plan refuses
// it with its own limit).
const maxCheckValue = 64 << 10

// platformArgs are the build args BuildKit predefines for FROM.
var platformArgs = map[string]bool{"BUILDPLATFORM": true, "BUILDOS": true, "BUILDARCH": true, "BUILDVARIANT": true,
	"TARGETPLATFORM": true, "TARGETOS": true, "TARGETARCH": true, "TARGETVARIANT": true}

// runChecks runs the static checks over a parsed Dockerfile.
func runChecks(lint *linter.Linter, stages []instructions.Stage, metaArgs []instructions.ArgCommand, escape rune) {
	checkCasing(lint, stages)
	checkStageNames(lint, stages)
	checkFrom(lint, stages, metaArgs, escape)
	for _, st := range stages {
		checkStage(lint, st)
	}
}

func consistent(s string) bool { return s == strings.ToLower(s) || s == strings.ToUpper(s) }

// checkCasing is ConsistentInstructionCasing: every instruction in the majority's case.
func checkCasing(lint *linter.Linter, stages []instructions.Stage) {
	lower, upper := 0, 0
	count := func(name string) {
		if consistent(name) {
			if strings.ToLower(name) == name {
				lower++
			} else {
				upper++
			}
		}
	}
	for _, st := range stages {
		count(st.OrigCmd)
		for _, c := range st.Commands {
			count(c.Name())
		}
	}
	majorityLower := lower > upper
	match := func(name string, loc []parser.Range) {
		want := ""
		if majorityLower && strings.ToLower(name) != name {
			want = "lowercase"
		} else if !majorityLower && strings.ToUpper(name) != name {
			want = "uppercase"
		}
		if want != "" {
			lint.Run(&linter.RuleConsistentInstructionCasing, loc, linter.RuleConsistentInstructionCasing.Format(name, want))
		}
	}
	for _, st := range stages {
		match(st.OrigCmd, st.Location)
		for _, c := range st.Commands {
			match(c.Name(), c.Location())
		}
	}
}

// checkStageNames is ReservedStageName and DuplicateStageName.
func checkStageNames(lint *linter.Linter, stages []instructions.Stage) {
	seen := map[string]bool{}
	for _, st := range stages {
		if st.Name == "" {
			continue
		}
		if st.Name == "context" || st.Name == "scratch" {
			lint.Run(&linter.RuleReservedStageName, st.Location, linter.RuleReservedStageName.Format(st.Name))
		}
		if seen[st.Name] {
			lint.Run(&linter.RuleDuplicateStageName, st.Location, linter.RuleDuplicateStageName.Format(st.Name))
		}
		seen[st.Name] = true
	}
}

// checkFrom is UndefinedArgInFrom, InvalidDefaultArgInFrom, RedundantTargetPlatform and
// FromPlatformFlagConstDisallowed.
func checkFrom(lint *linter.Linter, stages []instructions.Stage, metaArgs []instructions.ArgCommand, escape rune) {
	lex := shell.NewLex(escape)
	declared := map[string]bool{}
	env := map[string]string{"TARGETPLATFORM": "linux/amd64", "BUILDPLATFORM": "linux/amd64"}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			declared[kv.Key] = true
			env[kv.Key] = ""
			if kv.Value == nil {
				continue
			}
			r, err := lex.ProcessWordWithMatches(*kv.Value, envGetter(env))
			if err != nil || len(r.Result) > maxCheckValue {
				return // the build reports it (plan bounds expansions); no check runs on it
			}
			env[kv.Key] = r.Result
		}
	}
	for _, st := range stages {
		name, err := lex.ProcessWordWithMatches(st.BaseName, envGetter(env))
		if err != nil {
			continue
		}
		for v := range name.Unmatched {
			if !declared[v] && !platformArgs[v] {
				lint.Run(&linter.RuleUndefinedArgInFrom, st.Location, linter.RuleUndefinedArgInFrom.Format(v, ""))
			}
		}
		if len(name.Unmatched) == 0 {
			if _, err := reference.ParseReference(name.Result); err != nil && name.Result != "scratch" && !isStage(stages, name.Result) {
				lint.Run(&linter.RuleInvalidDefaultArgInFrom, st.Location, linter.RuleInvalidDefaultArgInFrom.Format(st.BaseName))
			}
		}
		if st.Platform == "" {
			continue
		}
		plat, err := lex.ProcessWordWithMatches(st.Platform, envGetter(env))
		if err != nil {
			continue
		}
		if _, ok := plat.Matched["TARGETPLATFORM"]; ok && len(plat.Matched) == 1 && len(plat.Unmatched) == 0 {
			lint.Run(&linter.RuleRedundantTargetPlatform, st.Location, linter.RuleRedundantTargetPlatform.Format(st.Platform))
		}
		if len(plat.Matched) == 0 && len(plat.Unmatched) == 0 {
			if p, err := platforms.Parse(plat.Result); err == nil && !strings.Contains(st.Name, p.OS) && !strings.Contains(st.Name, p.Architecture) {
				lint.Run(&linter.RuleFromPlatformFlagConstDisallowed, st.Location, linter.RuleFromPlatformFlagConstDisallowed.Format(plat.Result))
			}
		}
	}
}

func isStage(stages []instructions.Stage, name string) bool {
	for _, st := range stages {
		if st.Name != "" && strings.EqualFold(st.Name, name) {
			return true
		}
	}
	return false
}

// envGetter is a shell.EnvGetter over a map.
type envGetter map[string]string

func (e envGetter) Get(k string) (string, bool) {
	v, ok := e[k]
	return v, ok
}

func (e envGetter) Keys() []string {
	var out []string
	for k := range e {
		out = append(out, k)
	}
	return out
}

// checkStage is JSONArgsRecommended, MultipleInstructionsDisallowed, WorkdirRelativePath,
// LegacyKeyValueFormat, ExposeProtoCasing and ExposeInvalidFormat within one stage.
func checkStage(lint *linter.Linter, st instructions.Stage) {
	var cmd, entrypoint, healthcheck []parser.Range
	once := func(prev *[]parser.Range, c instructions.Command) {
		if *prev != nil {
			lint.Run(&linter.RuleMultipleInstructionsDisallowed, *prev, linter.RuleMultipleInstructionsDisallowed.Format(c.Name()))
		}
		*prev = c.Location()
	}
	shellSet, workdirSet := false, false
	for _, c := range st.Commands {
		switch c := c.(type) {
		case *instructions.ShellCommand:
			shellSet = true
		case *instructions.CmdCommand:
			once(&cmd, c)
			jsonArgs(lint, c.Name(), c.PrependShell, shellSet, c.Location())
		case *instructions.EntrypointCommand:
			once(&entrypoint, c)
			jsonArgs(lint, c.Name(), c.PrependShell, shellSet, c.Location())
		case *instructions.HealthCheckCommand:
			once(&healthcheck, c)
		case *instructions.WorkdirCommand:
			if !workdirSet && !path.IsAbs(c.Path) && !strings.HasPrefix(c.Path, "$") {
				lint.Run(&linter.RuleWorkdirRelativePath, c.Location(), linter.RuleWorkdirRelativePath.Format(c.Path))
			}
			workdirSet = true
		case *instructions.EnvCommand:
			legacy(lint, c.Name(), c.Env, c.Location())
		case *instructions.LabelCommand:
			legacy(lint, c.Name(), c.Labels, c.Location())
		case *instructions.ExposeCommand:
			checkExpose(lint, c)
		}
	}
}

func jsonArgs(lint *linter.Linter, name string, shellForm, shellSet bool, loc []parser.Range) {
	if shellForm && !shellSet {
		lint.Run(&linter.RuleJSONArgsRecommended, loc, linter.RuleJSONArgsRecommended.Format(name))
	}
}

func legacy(lint *linter.Linter, name string, kvs instructions.KeyValuePairs, loc []parser.Range) {
	for _, kv := range kvs {
		if kv.NoDelim {
			lint.Run(&linter.RuleLegacyKeyValueFormat, loc, linter.RuleLegacyKeyValueFormat.Format(name))
		}
	}
}

// checkExpose flags a protocol not in lowercase and an IP or host port in EXPOSE.
func checkExpose(lint *linter.Linter, c *instructions.ExposeCommand) {
	for _, p := range c.Ports {
		port, proto, _ := strings.Cut(p, "/")
		if proto != strings.ToLower(proto) {
			lint.Run(&linter.RuleExposeProtoCasing, c.Location(), linter.RuleExposeProtoCasing.Format(p))
		}
		if strings.Contains(port, ":") {
			lint.Run(&linter.RuleExposeInvalidFormat, c.Location(), linter.RuleExposeInvalidFormat.Format(p))
		}
	}
}
