package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/hush-build/hush/internal/jet"
	"github.com/hush-build/hush/internal/secret"
	"github.com/hush-build/hush/internal/secretfile"
)

type importJetOptions struct {
	keyFile string
	decrypt bool
	outDir  string
	force   bool
	rf      recipientFlags
}

func newSecretImportJetCmd() *cobra.Command {
	var o importJetOptions
	cmd := &cobra.Command{
		Use:   "import-jet --key codeship.aes [--decrypt | -r RECIPIENT | -R RECIPIENTS_FILE]... [-o DIR] FILE.encrypted...",
		Short: "Migrate files encrypted by Codeship Jet to age",
		Long: `Decrypt files made by 'jet encrypt' (v1 and v2 formats) with the project's AES key and
re-encrypt each to age recipients as FILE.age (a trailing .encrypted is dropped), next to
the input or in -o DIR. Existing outputs are kept unless --force. With --decrypt the
plaintext goes to stdout instead and nothing is written.

v2 files carry a checksum, so a wrong key is reported as such. v1 files do not; hush
rejects output that is not KEY=value text or JSON as "the key is probably wrong".`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSecretImportJet(o, args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&o.keyFile, "key", "", "the project's AES key file (codeship.aes); required")
	cmd.Flags().BoolVar(&o.decrypt, "decrypt", false, "print the plaintext to stdout instead of re-encrypting")
	cmd.Flags().StringVarP(&o.outDir, "output-dir", "o", "", "write the .age files into DIR instead of beside each input")
	cmd.Flags().BoolVarP(&o.force, "force", "f", false, "replace existing .age files")
	o.rf.add(cmd)
	cmd.MarkFlagRequired("key")
	return cmd
}

func runSecretImportJet(o importJetOptions, files []string, stdout, stderr io.Writer) error {
	if o.decrypt && (o.rf.given() || o.outDir != "") {
		return errors.New("import-jet: --decrypt prints the plaintext; it takes no -r/-R/-o")
	}
	var rs []age.Recipient
	if !o.decrypt {
		var err error
		if rs, err = o.rf.parse(); err != nil {
			return fmt.Errorf("import-jet: %w (or --decrypt to print the plaintext)", err)
		}
	}
	keyData, err := os.ReadFile(o.keyFile)
	if err != nil {
		return fmt.Errorf("import-jet: reading key: %w", err)
	}
	key, err := jet.ParseKey(keyData)
	clear(keyData)
	if err != nil {
		return fmt.Errorf("import-jet: %s: %w", o.keyFile, err)
	}
	defer key.Wipe()
	for _, in := range files {
		if err := importJetFile(o, key, rs, in, stdout, stderr); err != nil {
			return err
		}
	}
	return nil
}

func importJetFile(o importJetOptions, key *jet.Key, rs []age.Recipient, in string, stdout, stderr io.Writer) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return fmt.Errorf("import-jet: %w", err)
	}
	pt, version, err := jet.Decrypt(key, data)
	if err != nil {
		return fmt.Errorf("import-jet: %s: %w", in, err)
	}
	defer clear(pt)
	if o.decrypt {
		_, err := stdout.Write(pt)
		return err
	}
	out := jetOutputPath(in, o.outDir)
	if _, err := os.Lstat(out); err == nil && !o.force {
		return fmt.Errorf("import-jet: %s already exists (--force replaces it)", out)
	}
	if err := secretfile.WriteEncrypted(out, pt, 0o644, rs...); err != nil {
		return fmt.Errorf("import-jet: %w", err)
	}
	fmt.Fprintf(stderr, "%s (Jet v%d) -> %s\n", in, version, out)
	if !json.Valid(pt) {
		vars, err := secret.ParseEnvFile(bytes.NewReader(pt))
		for _, v := range vars {
			clear(v.Value)
		}
		if err != nil {
			fmt.Fprintf(stderr, "warning: %s is not valid for --secret-env-file (%v); see docs/spec/secret-files.md\n", out, err)
		} else if readsDifferently(pt) {
			fmt.Fprintf(stderr, "warning: %s has values that --secret-env-file does not read literally "+
				"(quotes are removed); check them, see docs/spec/secret-files.md\n", out)
		}
	}
	return nil
}

// jetOutputPath is IN without a trailing .encrypted, plus .age, in dir when given.
func jetOutputPath(in, dir string) string {
	name := strings.TrimSuffix(filepath.Base(in), ".encrypted") + ".age"
	if dir == "" {
		dir = filepath.Dir(in)
	}
	return filepath.Join(dir, name)
}

// readsDifferently reports a line that hush's env-file grammar does not take literally:
// a quoted value (quotes are removed).
func readsDifferently(pt []byte) bool {
	for _, line := range bytes.Split(pt, []byte("\n")) {
		if bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			continue
		}
		if _, v, ok := bytes.Cut(line, []byte("=")); ok {
			v = bytes.TrimSpace(v)
			if len(v) > 0 && (v[0] == '"' || v[0] == '\'') {
				return true
			}
		}
	}
	return false
}
