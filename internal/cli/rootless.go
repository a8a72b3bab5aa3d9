package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/hush-build/hush/internal/builder"
)

// stateAnnotation marks a command that reads or changes the state dir: started by an
// ordinary user it runs in hush's user namespace, where the IDs of the unpacked layers
// are mapped.
const stateAnnotation = "hush/state-dir"

// usesState marks cmds as commands that read or change the state dir.
func usesState(cmds ...*cobra.Command) []*cobra.Command {
	for _, c := range cmds {
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations[stateAnnotation] = "1"
	}
	return cmds
}

// enterUserNamespace re-executes an ordinary user's command that uses the state dir in
// hush's user namespace (builder.EnterUserNamespace); in the parent it ends the command
// with the child's exit code. An audit of an OCI layout or a docker archive reads no
// state dir and runs where it is.
func (g *globals) enterUserNamespace(cmd *cobra.Command, args []string) error {
	if cmd.Annotations[stateAnnotation] == "" {
		return nil
	}
	if cmd.Name() == "audit" && len(args) == 1 &&
		(strings.HasPrefix(args[0], "oci:") || strings.HasPrefix(args[0], "docker-archive:")) {
		return nil
	}
	handled, code, err := builder.EnterUserNamespace(g.root)
	if err != nil || !handled {
		return err
	}
	return &ExitError{Code: code}
}
