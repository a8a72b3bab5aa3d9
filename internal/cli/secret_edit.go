package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/hush-build/hush/internal/secretfile"
)

func newSecretEditCmd() *cobra.Command {
	var rf recipientFlags
	var ids []string
	cmd := &cobra.Command{
		Use:   "edit [-r RECIPIENT | -R RECIPIENTS_FILE]... [-i IDENTITY_FILE]... FILE",
		Short: "Edit an encrypted file in $EDITOR, with the plaintext only on tmpfs",
		Long: `Decrypt FILE (a new FILE starts empty) into a private directory on tmpfs
($XDG_RUNTIME_DIR or /dev/shm; hush refuses to run without one), open it in $EDITOR
(default vi), and when the text changed, encrypt it again and replace FILE atomically.
The plaintext and anything the editor left beside it are zeroed and removed afterwards.

age files do not record their recipients, so edit re-encrypts to -r/-R when given, else
to the recipients listed in FILE.recipients. Without either it refuses.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			rs, err := editRecipients(path, &rf)
			if err != nil {
				return err
			}
			var idents []age.Identity
			if _, err := os.Stat(path); err == nil {
				if idents, err = identities(ids); err != nil {
					return err
				}
			}
			changed, err := secretfile.Edit(cmd.Context(), path, secretfile.EditOptions{
				Identities: idents, Recipients: rs, Editor: os.Getenv("EDITOR"),
				Stdin: cmd.InOrStdin(), Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr(),
			})
			if err != nil {
				return err
			}
			if changed {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: re-encrypted to %d recipient(s)\n", path, len(rs))
			} else {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: no changes\n", path)
			}
			return nil
		},
	}
	rf.add(cmd)
	cmd.Flags().StringArrayVarP(&ids, "identity", "i", nil, "identity file to use instead of the defaults; repeatable")
	return cmd
}

// editRecipients are -r/-R when given, else those in the FILE.recipients sidecar.
func editRecipients(path string, rf *recipientFlags) ([]age.Recipient, error) {
	if rf.given() {
		return rf.parse()
	}
	sidecar := secretfile.SidecarPath(path)
	rs, err := secretfile.ReadRecipientsFile(sidecar)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("editing %s: age files do not name their recipients; pass -r/-R, or list them in %s", path, sidecar)
	}
	return rs, err
}
