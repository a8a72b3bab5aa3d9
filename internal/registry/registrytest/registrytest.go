// Package registrytest runs a real Docker registry (the docker-registry
// program, distribution v2) for tests, the way net/http/httptest runs an HTTP
// server: on 127.0.0.1, with TLS from a CA generated for the test and htpasswd
// basic auth for the users the test names. It must never be imported by
// non-test code.
package registrytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/hush-build/hush/internal/hushtest"
)

// Program is the registry binary (Debian package docker-registry).
const Program = "docker-registry"

// Server is a running registry.
type Server struct {
	// Host is host:port, for image references ("<Host>/repo:tag").
	Host string
	// CACert is the PEM of the CA that signed the server certificate.
	CACert []byte
	// CAFile holds CACert.
	CAFile string
	// Dir holds the registry's config, htpasswd, storage and log.
	Dir string
	// LogFile is the registry's combined stdout and stderr.
	LogFile string
}

// Start runs a registry on 127.0.0.1 whose htpasswd holds users (name →
// password) and stops it when t ends. It skips (fails in CI) without the
// docker-registry program.
func Start(t testing.TB, users map[string]string) *Server {
	t.Helper()
	prog := hushtest.RequireBinary(t, Program)
	dir := t.TempDir()
	s := &Server{Dir: dir, CAFile: filepath.Join(dir, "ca.pem"), LogFile: filepath.Join(dir, "registry.log")}
	certFile, keyFile := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	if err := s.writeCerts(certFile, keyFile); err != nil {
		t.Fatalf("making test certificates: %v", err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := writeHtpasswd(htpasswd, users); err != nil {
		t.Fatalf("writing htpasswd: %v", err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	s.Host = fmt.Sprintf("127.0.0.1:%d", port)
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: debug
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
  tls:
    certificate: %s
    key: %s
auth:
  htpasswd:
    realm: hush-test
    path: %s
`, filepath.Join(dir, "data"), s.Host, certFile, keyFile, htpasswd)
	cfgFile := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatalf("writing registry config: %v", err)
	}
	log, err := os.Create(s.LogFile)
	if err != nil {
		t.Fatalf("creating registry log: %v", err)
	}
	cmd := exec.Command(prog, "serve", cfgFile)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		t.Fatalf("starting %s: %v", Program, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		log.Close()
	})
	if err := s.waitReady(10 * time.Second); err != nil {
		logs, _ := os.ReadFile(s.LogFile)
		t.Fatalf("registry did not come up: %v\nlog:\n%s", err, logs)
	}
	return s
}

// Logs returns what the registry logged so far.
func (s *Server) Logs() string {
	b, _ := os.ReadFile(s.LogFile)
	return string(b)
}

// Transport is an HTTP transport trusting the test CA.
func (s *Server) Transport() *http.Transport {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CACert)
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool}
	return t
}

func (s *Server) waitReady(timeout time.Duration) error {
	c := &http.Client{Transport: s.Transport(), Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		resp, err := c.Get("https://" + s.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("GET /v2/: %s", resp.Status)
		} else {
			last = err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return last
}

func (s *Server) writeCerts(certFile, keyFile string) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "hush test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	s.CACert = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	files := map[string][]byte{
		s.CAFile: s.CACert,
		certFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyFile:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
	for p, b := range files {
		// The CA certificate is public: a rootless hush run as another user reads it.
		mode := os.FileMode(0o600)
		if p == s.CAFile {
			mode = 0o644
		}
		if err := os.WriteFile(p, b, mode); err != nil {
			return err
		}
	}
	return nil
}

func writeHtpasswd(path string, users map[string]string) error {
	names := make([]string, 0, len(users))
	for u := range users {
		names = append(names, u)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, u := range names {
		h, err := bcrypt.GenerateFromPassword([]byte(users[u]), bcrypt.MinCost)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s:%s\n", u, h)
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
