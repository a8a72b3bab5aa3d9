// Package dockerengine loads images into a docker engine through its API, as buildx's
// docker exporter does when it has no dest (--load): it finds the engine the docker CLI
// would talk to (DOCKER_HOST, the current docker context, /var/run/docker.sock) and
// streams a docker archive to POST /images/load.
//
// It owns finding the engine and that one call. It must never send registry credentials
// or anything but the archive it is given.
package dockerengine

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// DefaultHost is the engine's socket when nothing names another.
const DefaultHost = "unix:///var/run/docker.sock"

// Engine is a docker engine's API endpoint.
type Engine struct {
	Host   string // unix:///path or tcp://host:port
	client *http.Client
	base   string
}

// Find returns the engine of the docker context contextName ("" for the CLI's current
// one: DOCKER_HOST, then DOCKER_CONTEXT or the config's currentContext, then the default
// socket).
func Find(contextName string) (*Engine, error) {
	host, tlsDir, err := resolveHost(contextName)
	if err != nil {
		return nil, err
	}
	return open(host, tlsDir)
}

func open(host, tlsDir string) (*Engine, error) {
	u, err := url.Parse(host)
	if err != nil {
		return nil, fmt.Errorf("docker host %q: %w", host, err)
	}
	tr := &http.Transport{}
	e := &Engine{Host: host, client: &http.Client{Transport: tr}}
	switch u.Scheme {
	case "unix":
		sock := u.Path
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}
		e.base = "http://docker"
	case "tcp":
		e.base = "http://" + u.Host
		if tlsDir != "" {
			cfg, err := tlsConfig(tlsDir)
			if err != nil {
				return nil, err
			}
			tr.TLSClientConfig, e.base = cfg, "https://"+u.Host
		}
	default:
		return nil, fmt.Errorf("docker host %q: unsupported scheme %q (want unix:// or tcp://)", host, u.Scheme)
	}
	return e, nil
}

// Load streams the docker archive write produces into the engine (docker load) and
// returns the engine's "Loaded image" lines.
func (e *Engine) Load(ctx context.Context, write func(io.Writer) error) ([]string, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(write(pw)) }()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.base+"/images/load?quiet=0", pr)
	if err != nil {
		pr.CloseWithError(err)
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-tar")
	resp, err := e.client.Do(req)
	if err != nil {
		pr.CloseWithError(err)
		return nil, fmt.Errorf("loading into the docker engine at %s: %w", e.Host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("loading into the docker engine at %s: %s: %s", e.Host, resp.Status, strings.TrimSpace(string(b)))
	}
	return readLoadStream(resp.Body)
}

// readLoadStream reads the engine's JSON message stream of a load.
func readLoadStream(r io.Reader) ([]string, error) {
	var loaded []string
	dec := json.NewDecoder(bufio.NewReader(r))
	for {
		var m struct {
			Stream      string `json:"stream"`
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return loaded, nil
		} else if err != nil {
			return loaded, fmt.Errorf("reading the docker engine's answer: %w", err)
		}
		if msg := firstOf(m.ErrorDetail.Message, m.Error); msg != "" {
			return loaded, fmt.Errorf("docker load: %s", msg)
		}
		if s := strings.TrimSpace(m.Stream); s != "" {
			loaded = append(loaded, s)
		}
	}
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// resolveHost finds the engine the docker CLI would use, and the dir of its TLS files
// ("" for none).
func resolveHost(name string) (host, tlsDir string, err error) {
	if name == "" {
		if h := os.Getenv("DOCKER_HOST"); h != "" {
			if os.Getenv("DOCKER_TLS_VERIFY") != "" {
				tlsDir = firstOf(os.Getenv("DOCKER_CERT_PATH"), configDir())
			}
			return h, tlsDir, nil
		}
		name = currentContext()
	}
	if name == "" || name == "default" {
		return DefaultHost, "", nil
	}
	id := contextID(name)
	b, err := os.ReadFile(filepath.Join(configDir(), "contexts", "meta", id, "meta.json"))
	if err != nil {
		return "", "", fmt.Errorf("docker context %q: %w", name, err)
	}
	var meta struct {
		Endpoints map[string]struct{ Host string } `json:"Endpoints"`
	}
	if err := json.Unmarshal(b, &meta); err != nil || meta.Endpoints["docker"].Host == "" {
		return "", "", fmt.Errorf("docker context %q: no docker endpoint in its metadata", name)
	}
	dir := filepath.Join(configDir(), "contexts", "tls", id, "docker")
	if _, err := os.Stat(filepath.Join(dir, "ca.pem")); err != nil {
		dir = ""
	}
	return meta.Endpoints["docker"].Host, dir, nil
}

// contextID is the name of a docker context's metadata dir: the hex SHA-256 of its name.
func contextID(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

// configDir is the docker CLI's config dir (DOCKER_CONFIG, else ~/.docker).
func configDir() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".docker")
}

// currentContext is DOCKER_CONTEXT, else the config's currentContext.
func currentContext() string {
	if c := os.Getenv("DOCKER_CONTEXT"); c != "" {
		return c
	}
	b, err := os.ReadFile(filepath.Join(configDir(), "config.json"))
	if err != nil {
		return ""
	}
	var cfg struct {
		CurrentContext string `json:"currentContext"`
	}
	_ = json.Unmarshal(b, &cfg)
	return cfg.CurrentContext
}

// tlsConfig reads ca.pem, cert.pem and key.pem from dir, as the docker CLI does.
func tlsConfig(dir string) (*tls.Config, error) {
	ca, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return nil, fmt.Errorf("docker TLS: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("docker TLS: no certificate in %s", filepath.Join(dir, "ca.pem"))
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		return nil, fmt.Errorf("docker TLS: %w", err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
