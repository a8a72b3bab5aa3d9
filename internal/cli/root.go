package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/hush-build/hush/internal/builder"
	"github.com/hush-build/hush/internal/image"
)

// ExitError carries a specific exit code out of a command.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

type globals struct {
	root string
}

// defaultRoot is /var/lib/hush for root, $XDG_DATA_HOME/hush otherwise.
func defaultRoot() string {
	if r := os.Getenv("HUSH_ROOT"); r != "" {
		return r
	}
	if os.Geteuid() == 0 {
		return "/var/lib/hush"
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "hush")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share", "hush")
}

// store opens the image store, first sweeping what killed builds left in the state dir.
func (g *globals) store() (*image.Store, error) {
	return builder.OpenStore(g.root)
}

// openBuilder opens the state dir for builds with runtime, collecting garbage after each
// by the policy of $HUSH_GC or the state dir's gc.conf.
func (g *globals) openBuilder(runtime string) (*builder.Builder, error) {
	policy, err := builder.LoadGCPolicy(g.root)
	if err != nil {
		return nil, err
	}
	return builder.Open(g.root, builder.Config{Runtime: runtime, GC: policy})
}

// enterNamespace runs the current command again inside hush's private namespaces (see
// builder.EnterNamespace). In the parent it returns handled=true with the child's outcome;
// in the child it returns handled=false.
func (g *globals) enterNamespace() (handled bool, err error) {
	handled, code, err := builder.EnterNamespace(g.root)
	if handled && err == nil && code != 0 {
		err = &ExitError{Code: code}
	}
	return handled, err
}

// image looks ref up in the local store.
func (g *globals) image(ref string) (v1.Image, error) {
	store, err := g.store()
	if err != nil {
		return nil, err
	}
	img, _, err := store.Image(ref)
	return img, err
}

// NewRoot builds the hush command tree.
func NewRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "hush",
		Short:         "Build container images that keep their secrets",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return g.enterUserNamespace(cmd, args)
		},
	}
	root.PersistentFlags().StringVar(&g.root, "root", defaultRoot(), "state directory (images, layers, cache); env HUSH_ROOT")
	root.Version = readVersion().short()
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(usesState(newBuildCmd(g), newBakeCmd(g), newImagesCmd(g), newRmiCmd(g), newLoadCmd(g),
		newImportCmd(g), newHistoryCmd(g), newInspectCmd(g), newAuditCmd(g), newPushCmd(g),
		newStepsCmd(g), newRunCmd(g), newInfoCmd(g), newPruneCmd(g), newDuCmd(g))...)
	root.AddCommand(newLintCmd(g), newSecretCmd(g), newVersionCmd())
	return root
}

// Execute runs the CLI and returns the process exit code.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := NewRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	fmt.Fprintf(stderr, "ERROR: %v\n", err)
	return 1
}
