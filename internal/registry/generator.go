package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/docker/cli/cli/config/configfile"
	"github.com/google/go-containerregistry/pkg/authn"
	"golang.org/x/sys/unix"
)

// Generator spec prefixes for --registry-auth-generator.
const (
	// GeneratorImagePrefix runs a hush image as the generator.
	GeneratorImagePrefix = "image:"
	// GeneratorHelperPrefix uses a docker credential helper as the generator:
	// "helper:ecr-login" asks docker-credential-ecr-login for every registry.
	GeneratorHelperPrefix = "helper:"
)

// DefaultGeneratorDir is the tmpfs under which generators write their output and the
// credential cache keeps its key, unless TmpfsDirEnv names another.
const DefaultGeneratorDir = "/dev/shm"

// TmpfsDirEnv is the environment variable that moves DefaultGeneratorDir (it must name a
// tmpfs or ramfs directory); tests point it at a directory they own.
const TmpfsDirEnv = "HUSH_TMPFS_DIR"

// generatorOutput is the name of the file a generator is asked to write.
const generatorOutput = "dockercfg"

// ImageRunner runs image (from hush's store) with args appended to its entrypoint (or
// replacing its cmd), the host dir mounted read-write at ImageOutDir inside it.
type ImageRunner func(ctx context.Context, image string, args []string, dir string, stdout, stderr io.Writer) error

// ImageOutDir is where an image generator finds its tmpfs output dir; the output path it
// is given is ImageOutDir + "/dockercfg".
const ImageOutDir = "/hush-generator"

// ErrNoImageRunner is returned (wrapped) for an image generator where the caller gave no
// way to run images (the commands that talk to registries all give one).
var ErrNoImageRunner = errors.New("no image runner")

// ErrNotTmpfs is returned (wrapped) when a generator's output directory is not
// on a tmpfs, where credentials would reach a persistent disk.
var ErrNotTmpfs = errors.New("not a tmpfs")

// Generator mints registry credentials with Codeship's dockercfg generator
// contract: it runs Args with an output path appended as the last argument,
// reads the dockercfg (legacy or config.json form) the command wrote there,
// deletes it at once and keeps the credentials in memory. The path is in a
// private directory on a tmpfs. It runs on first use, once (or again when
// MaxAge has passed). A Generator is an authn.Keychain and is safe for
// concurrent use.
type Generator struct {
	// Args is the command and its arguments; the output path is appended.
	Args []string
	// Env is the command's environment; nil means os.Environ().
	Env []string
	// Stdout and Stderr receive the command's output (its logs); nil discards.
	Stdout, Stderr io.Writer
	// Dir is the tmpfs directory for the output; "" means DefaultGeneratorDir.
	Dir string
	// MaxAge re-runs the command when its credentials are older; 0 means never.
	MaxAge time.Duration
	// RunImage runs a hush image for an "image:NAME" generator: Args[1:] plus the output
	// path as the last argument, with dir (the private tmpfs dir) mounted at ImageOutDir.
	RunImage ImageRunner
	// Cache, when set, keeps what the generator wrote on disk (encrypted) until it expires,
	// so later hush commands reuse it; nil: memory only.
	Cache *DiskCache

	mu  sync.Mutex
	kc  *Keychain
	ran time.Time
}

var (
	_ authn.Keychain        = (*Generator)(nil)
	_ authn.ContextKeychain = (*Generator)(nil)
)

// ParseGenerator turns a --registry-auth-generator value into a keychain:
// "helper:NAME" is the docker credential helper docker-credential-NAME,
// "image:NAME" is a hush image run by runImage, anything else a command
// line split like a shell would (quotes and backslashes, no expansion).
// env is the environment of the programs it runs (nil: os.Environ()), logs
// receives their output and dir is the tmpfs for command output ("" for
// DefaultGeneratorDir).
func ParseGenerator(spec string, env []string, logs io.Writer, dir string, runImage ImageRunner, cache *DiskCache) (authn.Keychain, error) {
	spec = strings.TrimSpace(spec)
	switch {
	case spec == "":
		return nil, errors.New("parsing registry auth generator: empty command")
	case strings.HasPrefix(spec, GeneratorImagePrefix):
		if runImage == nil {
			return nil, fmt.Errorf("registry auth generator %s: %w here; run it as a local command", spec, ErrNoImageRunner)
		}
		args, err := SplitCommand(strings.TrimPrefix(spec, GeneratorImagePrefix))
		if err != nil || len(args) == 0 || args[0] == "" {
			return nil, fmt.Errorf("parsing registry auth generator %q: want image:NAME [ARGS]", spec)
		}
		return &Generator{Args: append([]string{GeneratorImagePrefix + args[0]}, args[1:]...), Env: env,
			Stdout: logs, Stderr: logs, Dir: dir, RunImage: runImage, Cache: cache}, nil
	case strings.HasPrefix(spec, GeneratorHelperPrefix):
		name := strings.TrimPrefix(spec, GeneratorHelperPrefix)
		if name == "" || strings.ContainsAny(name, `/\ `) {
			return nil, fmt.Errorf("parsing registry auth generator %q: want helper:NAME for docker-credential-NAME", spec)
		}
		return &Keychain{Config: &configfile.ConfigFile{CredentialsStore: name}, Source: "credential helper " + HelperPrefix + name, Env: env, Stderr: logs}, nil
	}
	args, err := SplitCommand(spec)
	if err != nil {
		return nil, fmt.Errorf("parsing registry auth generator: %w", err)
	}
	return &Generator{Args: args, Env: env, Stdout: logs, Stderr: logs, Dir: dir, Cache: cache}, nil
}

// Resolve implements authn.Keychain.
func (g *Generator) Resolve(target authn.Resource) (authn.Authenticator, error) {
	return g.ResolveContext(context.Background(), target)
}

// ResolveContext implements authn.ContextKeychain: it runs the command on
// first use and answers from the dockercfg it wrote.
func (g *Generator) ResolveContext(ctx context.Context, target authn.Resource) (authn.Authenticator, error) {
	kc, err := g.keychain(ctx)
	if err != nil {
		return nil, err
	}
	return kc.ResolveContext(ctx, target)
}

func (g *Generator) keychain(ctx context.Context) (*Keychain, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.kc != nil && (g.MaxAge <= 0 || time.Since(g.ran) < g.MaxAge) {
		return g.kc, nil
	}
	var cfg *configfile.ConfigFile
	if g.Cache != nil {
		if data, ok := g.Cache.Load(strings.Join(g.Args, "\x00"), time.Now()); ok {
			cfg, _ = parseConfig(data)
			clear(data)
		}
	}
	if cfg == nil {
		var err error
		if cfg, err = g.Run(ctx); err != nil {
			return nil, err
		}
	}
	g.kc = &Keychain{Config: cfg, Source: g.source()}
	g.ran = time.Now()
	return g.kc, nil
}

func (g *Generator) source() string {
	if len(g.Args) == 0 {
		return "registry auth generator"
	}
	if strings.HasPrefix(g.Args[0], GeneratorImagePrefix) {
		return "registry auth generator " + g.Args[0]
	}
	return "registry auth generator " + filepath.Base(g.Args[0])
}

// Run runs the command once and returns the credentials it wrote. The output
// file and its private directory are removed before Run returns, on every path.
func (g *Generator) Run(ctx context.Context) (*configfile.ConfigFile, error) {
	if len(g.Args) == 0 {
		return nil, errors.New("running registry auth generator: empty command")
	}
	dir := g.Dir
	if dir == "" {
		dir = DefaultGeneratorDir
	}
	if err := checkTmpfs(dir); err != nil {
		return nil, fmt.Errorf("running %s: %w", g.source(), err)
	}
	priv, err := os.MkdirTemp(dir, "hush-regauth-")
	if err != nil {
		return nil, fmt.Errorf("running %s: %w", g.source(), err)
	}
	defer os.RemoveAll(priv)
	out := filepath.Join(priv, generatorOutput)
	// The generator's own output is held back and shown only after the credentials it
	// minted are masked in it (generators often print the token they fetched).
	var logs logBuffer
	defer logs.wipe()
	if name, ok := strings.CutPrefix(g.Args[0], GeneratorImagePrefix); ok && g.RunImage != nil {
		args := append(append([]string{}, g.Args[1:]...), ImageOutDir+"/"+generatorOutput)
		err = g.RunImage(ctx, name, args, priv, logs.out(), logs.err())
	} else {
		args := append(append([]string{}, g.Args[1:]...), out)
		cmd := exec.CommandContext(ctx, g.Args[0], args...)
		cmd.Env = g.Env
		cmd.Stdout, cmd.Stderr = logs.out(), logs.err()
		cmd.WaitDelay = 5 * time.Second
		err = exitError(cmd.Run())
	}
	if err != nil {
		logs.emit(g.Stdout, g.Stderr, nil) // nothing to mask but what the caller already masks
		return nil, fmt.Errorf("running %s: %w", g.source(), err)
	}
	data, err := os.ReadFile(out)
	os.RemoveAll(priv)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("running %s: it wrote no dockercfg to the path in its last argument", g.source())
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s output: %w", g.source(), err)
	}
	defer clear(data)
	cfg, err := parseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("reading %s output: %w", g.source(), err)
	}
	logs.emit(g.Stdout, g.Stderr, credentialValues(cfg))
	if !cfg.ContainsAuth() {
		return nil, fmt.Errorf("reading %s output: no credentials in it", g.source())
	}
	if g.Cache != nil {
		if err := g.Cache.Store(strings.Join(g.Args, "\x00"), data, time.Now()); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// checkTmpfs fails unless dir is on a tmpfs or ramfs.
func checkTmpfs(dir string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("checking output directory %s: %w", dir, err)
	}
	if st.Type != unix.TMPFS_MAGIC && st.Type != unix.RAMFS_MAGIC {
		return fmt.Errorf("output directory %s: %w", dir, ErrNotTmpfs)
	}
	return nil
}

// SplitCommand splits a command line into words like a POSIX shell without
// expansions: whitespace separates words, single quotes keep everything,
// double quotes keep everything but \" \\ \$ and \`, a backslash outside quotes
// escapes the next character.
func SplitCommand(s string) ([]string, error) {
	var (
		words   []string
		cur     strings.Builder
		inWord  bool
		quote   rune
		escaped bool
	)
	for _, r := range s {
		switch {
		case escaped:
			if quote == '"' && !strings.ContainsRune("\\\"$`", r) {
				cur.WriteRune('\\')
			}
			cur.WriteRune(r)
			escaped = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case quote == '"':
			switch r {
			case '"':
				quote = 0
			case '\\':
				escaped = true
			default:
				cur.WriteRune(r)
			}
		case r == '\\':
			escaped, inWord = true, true
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 || escaped {
		return nil, errors.New("unterminated quote or escape in command")
	}
	if inWord {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, errors.New("empty command")
	}
	return words, nil
}
