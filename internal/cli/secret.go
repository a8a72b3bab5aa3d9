package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/hush-build/hush/internal/secretfile"
)

func newSecretCmd(*globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret",
		Short: "Manage encrypted secret files",
		Long: `Manage age-encrypted secret files (see docs/spec/secret-files.md).

Anyone with the public recipients can encrypt a secret; only holders of an identity can
read it. Identities come from -i, else $HUSH_IDENTITY (contents) and $HUSH_IDENTITY_FILE,
else $XDG_CONFIG_HOME/hush/identity (~/.config/hush/identity).

An encrypted file works wherever a plain one does: --secret id=npm,src=npmrc.age,
--secret-env-file env.age and --build-arg-file args.age decrypt in memory.`,
	}
	cmd.AddCommand(newSecretKeygenCmd(), newSecretEncryptCmd(), newSecretDecryptCmd(),
		newSecretRekeyCmd(), newSecretEditCmd(), newSecretImportJetCmd())
	return cmd
}

// recipientFlags are the -r/-R flags shared by encrypt, rekey, edit and import-jet.
type recipientFlags struct{ values, files []string }

func (f *recipientFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVarP(&f.values, "recipient", "r", nil, "encrypt to this age recipient (age1…); repeatable")
	cmd.Flags().StringArrayVarP(&f.files, "recipients-file", "R", nil, "encrypt to the recipients listed in this file; repeatable")
}

func (f *recipientFlags) given() bool { return len(f.values)+len(f.files) > 0 }

func (f *recipientFlags) parse() ([]age.Recipient, error) {
	return secretfile.ParseRecipients(f.values, f.files)
}

// identities reads the -i files if any were given, else the user's identities.
func identities(files []string) ([]age.Identity, error) {
	if len(files) == 0 {
		return secretfile.FindIdentities(os.LookupEnv)
	}
	var ids []age.Identity
	for _, f := range files {
		got, err := secretfile.ReadIdentityFile(f)
		if err != nil {
			return nil, err
		}
		ids = append(ids, got...)
	}
	return ids, nil
}

func newSecretKeygenCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen [-o FILE]",
		Short: "Generate an age identity; the public recipient goes to stderr",
		Long: `Generate an age X25519 identity, in age-keygen's format, to FILE (created with mode
0600, never overwritten) or stdout. The public recipient is printed to stderr: share it,
keep the identity secret. Put the identity at ~/.config/hush/identity, or in
$HUSH_IDENTITY / $HUSH_IDENTITY_FILE on CI.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSecretKeygen(cmd.Context(), out, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the identity to FILE instead of stdout")
	return cmd
}

func runSecretKeygen(_ context.Context, out string, stdout, stderr io.Writer) error {
	k, err := secretfile.GenerateIdentity(time.Now().UTC().Truncate(time.Second))
	if err != nil {
		return err
	}
	defer clear(k.File)
	if out == "" {
		if _, err := stdout.Write(k.File); err != nil {
			return fmt.Errorf("writing identity: %w", err)
		}
	} else if err := secretfile.WriteNewFile(out, k.File, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "Public key: %s\n", k.Recipient)
	return nil
}

func newSecretEncryptCmd() *cobra.Command {
	var rf recipientFlags
	var out string
	cmd := &cobra.Command{
		Use:   "encrypt [-r RECIPIENT | -R RECIPIENTS_FILE]... [-o OUT] FILE|-",
		Short: "Encrypt a file to age recipients (armored)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, err := rf.parse()
			if err != nil {
				return err
			}
			return runSecretEncrypt(cmd.Context(), args[0], out, rs, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	rf.add(cmd)
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to OUT (replaced atomically) instead of stdout")
	return cmd
}

func runSecretEncrypt(_ context.Context, in, out string, rs []age.Recipient, stdin io.Reader, stdout io.Writer) error {
	var pt []byte
	var err error
	if in == "-" {
		pt, err = io.ReadAll(io.LimitReader(stdin, secretfile.MaxFileSize+1))
	} else {
		pt, err = os.ReadFile(in)
	}
	defer clear(pt)
	if err != nil {
		return fmt.Errorf("reading %s: %w", in, err)
	}
	if secretfile.IsEncrypted(pt) {
		return fmt.Errorf("encrypting %s: it is already age-encrypted (use hush secret rekey to change recipients)", in)
	}
	if out != "" {
		return secretfile.WriteEncrypted(out, pt, 0o644, rs...)
	}
	ct, err := secretfile.Encrypt(pt, rs...)
	if err != nil {
		return err
	}
	_, err = stdout.Write(ct)
	return err
}

func newSecretDecryptCmd() *cobra.Command {
	var ids []string
	cmd := &cobra.Command{
		Use:   "decrypt [-i IDENTITY_FILE]... FILE",
		Short: "Decrypt an age file to stdout",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSecretDecrypt(cmd.Context(), args[0], ids, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringArrayVarP(&ids, "identity", "i", nil, "identity file to use instead of the defaults; repeatable")
	return cmd
}

func runSecretDecrypt(_ context.Context, path string, idFiles []string, stdout io.Writer) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("decrypting: %w", err)
	}
	ids, err := identities(idFiles)
	if err != nil {
		return err
	}
	pt, err := secretfile.Decrypt(data, ids...)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer clear(pt)
	_, err = stdout.Write(pt)
	return err
}

const rekeyWarning = `Rekeying changes who can decrypt the files from now on. It does not rotate the
secrets themselves: anyone who held a removed identity, or a copy of the old files,
may still know them. After removing a recipient, rotate the secrets too.`

func newSecretRekeyCmd() *cobra.Command {
	var rf recipientFlags
	var ids []string
	cmd := &cobra.Command{
		Use:   "rekey [-r RECIPIENT | -R RECIPIENTS_FILE]... [-i IDENTITY_FILE]... FILE...",
		Short: "Re-encrypt files in place to a new recipient set",
		Long: `Re-encrypt each FILE in place, atomically, to exactly the recipients given (for example
after removing a teammate's key). A FILE.recipients sidecar is rewritten too.

` + rekeyWarning,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, err := rf.parse()
			if err != nil {
				return err
			}
			idents, err := identities(ids)
			if err != nil {
				return err
			}
			for _, f := range args {
				if err := secretfile.Rekey(f, idents, rs); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "rekeyed %s to %d recipient(s)\n", f, len(rs))
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "note: the secrets themselves are unchanged; rotate them if a removed identity may have seen them")
			return nil
		},
	}
	rf.add(cmd)
	cmd.Flags().StringArrayVarP(&ids, "identity", "i", nil, "identity file to use instead of the defaults; repeatable")
	return cmd
}
