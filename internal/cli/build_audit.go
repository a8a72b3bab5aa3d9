package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hush-build/hush/internal/progress"
	"github.com/hush-build/hush/internal/secret"
	"github.com/hush-build/hush/internal/sshagent"
)

// secretValues is every value a build was given that must not be in its output or its
// log: the --secret values (Git and HTTP auth secrets among them) and the private key
// files given to --ssh. The caller clears them.
func secretValues(secrets *secret.Store, sshFlags []string) (map[string][]byte, error) {
	vals := secrets.Values()
	specs, err := sshagent.ParseSpecs(sshFlags)
	if err != nil {
		return nil, err
	}
	for _, sp := range specs {
		for _, p := range sp.Paths {
			fi, err := os.Stat(p)
			if err != nil || !fi.Mode().IsRegular() {
				continue // an agent socket: no key material to look for
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("--ssh %s: %w", sp.ID, err)
			}
			vals["ssh:"+sp.ID+":"+filepath.Base(p)] = b
		}
	}
	return vals, nil
}

// warnShortSecrets names, at the start of a build, each secret value too short to audit
// or to mask anywhere (secret.Short); never its value or its length.
func warnShortSecrets(vals map[string][]byte, disp *progress.Display) {
	for _, id := range secret.ShortIDs(vals) {
		disp.Warn(fmt.Sprintf("secret %q is shorter than %d bytes: too short to audit or mask reliably; it is masked only as a whole word",
			id, secret.MinSearchable))
	}
}
