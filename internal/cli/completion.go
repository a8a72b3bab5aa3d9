package cli

import (
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/image"
)

// completeImages offers the store's image names (familiar, as typed), for shell completion
// of image arguments. It never fails a shell: with no store it offers nothing.
func (g *globals) completeImages(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if f := cmd.Flags().Lookup("root"); f != nil && f.Changed {
		g.root = f.Value.String()
	}
	store, err := image.OpenStore(filepath.Join(g.root, "store"))
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	entries, err := store.List()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, e := range entries {
		for _, n := range e.Names {
			if f := image.FamiliarName(n); strings.HasPrefix(f, toComplete) && !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// fixedValues completes a flag from a fixed list.
func fixedValues(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// commonPlatforms are the platforms offered for --platform (buildx's completion lists
// the builder's; hush's are what Debian's qemu-user-static emulates).
var commonPlatforms = []string{"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6", "linux/386",
	"linux/ppc64le", "linux/s390x", "linux/riscv64"}

// registerBuildCompletion completes hush build's flag values.
func registerBuildCompletion(cmd *cobra.Command) {
	for flag, values := range map[string][]string{
		"progress": {"auto", "none", "plain", "quiet", "rawjson", "tty"},
		"network":  {"default", "host", "none"},
		"audit":    {"fail", "warn", "off"},
		"runtime":  {"crun", "runc"},
		"call":     {"build", "check", "outline", "targets"},
		"allow":    {"network.host", "security.insecure"},
		"platform": commonPlatforms,
		"output": {"type=local,dest=", "type=tar,dest=", "type=oci,dest=", "type=docker", "type=docker,dest=",
			"type=image", "type=registry"},
	} {
		_ = cmd.RegisterFlagCompletionFunc(flag, fixedValues(values...))
	}
	_ = cmd.RegisterFlagCompletionFunc("target", completeTargets)
}

// completeTargets offers the stage names of the Dockerfile the command line names.
func completeTargets(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	path, _ := cmd.Flags().GetString("file")
	if path == "" {
		dir := "."
		if len(args) > 0 {
			dir = args[0]
		}
		path = filepath.Join(dir, "Dockerfile")
	}
	names, err := builder.StageNames(path)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, toComplete) {
			out = append(out, n)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
