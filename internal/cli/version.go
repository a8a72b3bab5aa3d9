package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hush-build/hush/internal/dockerfmt"
)

// buildxVersion and frontendVersion are what hush's flags and images follow.
const (
	buildxVersion   = "v0.38.2"
	frontendVersion = "v0.34.2"
)

// versionInfo is `hush version`'s, from the binary's build information.
type versionInfo struct {
	Version, GitCommit, Built, GoVersion, Os, Arch string
	Buildx, BuildKit                               string
}

func readVersion() versionInfo {
	v := versionInfo{Version: "dev", GoVersion: runtime.Version(), Os: runtime.GOOS, Arch: runtime.GOARCH,
		Buildx: buildxVersion, BuildKit: frontendVersion}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.GitCommit = s.Value
			if len(v.GitCommit) > 7 {
				v.GitCommit = v.GitCommit[:7]
			}
		case "vcs.time":
			v.Built = s.Value
		case "vcs.modified":
			if s.Value == "true" && v.GitCommit != "" {
				v.GitCommit += "-dirty"
			}
		}
	}
	return v
}

// short is --version's line, docker's "Docker version X, build Y" form.
func (v versionInfo) short() string {
	s := "hush version " + v.Version
	if v.GitCommit != "" {
		s += ", build " + v.GitCommit
	}
	return s
}

const versionTemplate = `hush:
 Version:      {{.Version}}
 Git commit:   {{.GitCommit}}
 Built:        {{.Built}}
 Go version:   {{.GoVersion}}
 OS/Arch:      {{.Os}}/{{.Arch}}
 Follows:      docker buildx {{.Buildx}}, BuildKit Dockerfile frontend {{.BuildKit}}
`

func newVersionCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the hush version information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return printVersion(cmd.OutOrStdout(), format)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template ('json' or a Go template)")
	return cmd
}

func printVersion(out io.Writer, format string) error {
	switch format {
	case "":
		format = versionTemplate
	case "json":
		format = "{{json .}}"
	}
	tmpl, err := dockerfmt.Parse(format)
	if err != nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, readVersion()); err != nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	s := b.String()
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	_, err = io.WriteString(out, s)
	return err
}
