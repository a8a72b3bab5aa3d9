package jet

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hush-build/hush/internal/hushtest"
	"github.com/hush-build/hush/internal/jet/jettest"
)

var update = flag.Bool("update", false, "rewrite the testdata fixtures (new random key and IVs)")

// encryptJet is Jet's scheme (jettest.Encrypt), for test vectors only.
func encryptJet(t testing.TB, key []byte, pt []byte, v Version) []byte {
	t.Helper()
	enc, err := jettest.Encrypt(key, pt, v == V2)
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

func randomKey(t testing.TB) ([]byte, *Key) {
	raw := make([]byte, 32)
	rand.Read(raw)
	k, err := ParseKey([]byte(base64.StdEncoding.EncodeToString(raw) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return raw, k
}

// fixtures are the committed vectors: testdata/NAME.encrypted decrypts with
// testdata/codeship.aes to testdata/NAME.
var fixtures = []struct {
	name string
	v    Version
}{
	{"env.v1", V1},
	{"env.v2", V2},
	{"dockercfg.v2", V2},
	{"dockercfg.v1", V1},
}

func TestFixtures(t *testing.T) {
	if *update {
		raw, _ := randomKey(t)
		os.WriteFile("testdata/codeship.aes", []byte(base64.StdEncoding.EncodeToString(raw)+"\n"), 0o600)
		for _, f := range fixtures {
			pt, err := os.ReadFile(filepath.Join("testdata", f.name))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join("testdata", f.name+".encrypted"), encryptJet(t, raw, pt, f.v), 0o644)
		}
	}
	keyData, err := os.ReadFile("testdata/codeship.aes")
	if err != nil {
		t.Fatal(err)
	}
	key, err := ParseKey(keyData)
	if err != nil {
		t.Fatal(err)
	}
	_, wrong := randomKey(t)
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			want, _ := os.ReadFile(filepath.Join("testdata", f.name))
			ct, err := os.ReadFile(filepath.Join("testdata", f.name+".encrypted"))
			if err != nil {
				t.Fatal(err)
			}
			got, v, err := Decrypt(key, ct)
			if err != nil || v != f.v || !bytes.Equal(got, want) {
				t.Fatalf("Decrypt = %q, v%d, %v; want %q, v%d", got, v, err, want, f.v)
			}
			_, _, err = Decrypt(wrong, ct)
			wantErr := ErrWrongKey
			if f.v == V1 {
				wantErr = ErrProbablyWrongKey
			}
			if !errors.Is(err, wantErr) {
				t.Fatalf("wrong key: %v, want %v", err, wantErr)
			}
		})
	}
}

func TestRoundTripGenerated(t *testing.T) {
	raw, key := randomKey(t)
	for _, tc := range []struct {
		name string
		pt   string
	}{
		{"empty", ""},
		{"env", "A=1\n# comment\nexport B=two words\n\nC=\n"},
		{"json", `{"auths":{"r.example":{"auth":"dTpw"}}}`},
		{"crlf", "A=1\r\nB=2\r\n"},
	} {
		for _, v := range []Version{V1, V2} {
			ct := encryptJet(t, raw, []byte(tc.pt), v)
			got, gotV, err := Decrypt(key, ct)
			if err != nil || gotV != v || string(got) != tc.pt {
				t.Errorf("%s v%d: Decrypt = %q, v%d, %v", tc.name, v, got, gotV, err)
			}
			// Line-wrapped base64 (and CRLF after the header) is accepted too.
			wrapped := bytes.ReplaceAll(ct, []byte(v2Header+"\n"), []byte(v2Header+"\r\n"))
			if len(wrapped) > 40 {
				wrapped = append(append(bytes.Clone(wrapped[:len(wrapped)-20]), '\n'), wrapped[len(wrapped)-20:]...)
			}
			if got, _, err := Decrypt(key, wrapped); err != nil || string(got) != tc.pt {
				t.Errorf("%s v%d wrapped: Decrypt = %q, %v", tc.name, v, got, err)
			}
		}
	}
}

func TestWrongKey(t *testing.T) {
	raw, _ := randomKey(t)
	const secret = "SECRET_TOKEN=do-not-print-me"
	for i := 0; i < 50; i++ { // v1 garbage must be caught every time, not just usually
		_, wrong := randomKey(t)
		for _, v := range []Version{V1, V2} {
			got, gotV, err := Decrypt(wrong, encryptJet(t, raw, []byte(secret+"\nOTHER=1\n"), v))
			want := map[Version]error{V1: ErrProbablyWrongKey, V2: ErrWrongKey}[v]
			if !errors.Is(err, want) || gotV != v || got != nil {
				t.Fatalf("v%d wrong key: %q, %v; want %v", v, got, err, want)
			}
			if strings.Contains(err.Error(), "do-not-print-me") {
				t.Fatalf("error leaks plaintext: %v", err)
			}
		}
	}
}

func TestV1PlausibilityCheck(t *testing.T) {
	raw, key := randomKey(t)
	for _, tc := range []struct {
		name string
		pt   string
		ok   bool
	}{
		{"env", "A=1\nB=2\n", true},
		{"json", `{"a":1}`, true},
		{"prose", "hello world\n", false},
		{"bad key", "1A=x\n", false},
		{"control bytes", "A=\x01\x02\n", false},
		{"invalid utf8", "A=\xff\xfe\n", false},
	} {
		_, _, err := Decrypt(key, encryptJet(t, raw, []byte(tc.pt), V1))
		if (err == nil) != tc.ok {
			t.Errorf("%s: Decrypt error = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrProbablyWrongKey) {
			t.Errorf("%s: error %v does not wrap ErrProbablyWrongKey", tc.name, err)
		}
	}
}

func TestBadInputs(t *testing.T) {
	_, key := randomKey(t)
	for _, tc := range []struct {
		name, data, want string
	}{
		{"not base64", "this is not base64!", "not base64"},
		{"v2 not base64", v2Header + "\n@@@", "not base64"},
		{"too short", base64.StdEncoding.EncodeToString([]byte("short")), "too short"},
		{"v2 too short for sum", v2Header + "\n" + base64.StdEncoding.EncodeToString(make([]byte, 20)), "the key does not match"},
	} {
		if _, _, err := Decrypt(key, []byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestParseKey(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
	}{
		{"not base64", "%%%%", "not base64"},
		{"short", base64.StdEncoding.EncodeToString(make([]byte, 16)), "16 bytes, want 32"},
		{"long", base64.StdEncoding.EncodeToString(make([]byte, 48)), "48 bytes, want 32"},
		{"empty", "\n", "0 bytes"},
	} {
		if _, err := ParseKey([]byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: ParseKey error %v, want %q", tc.name, err, tc.want)
		}
	}
	k, err := ParseKey([]byte("  " + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)) + "\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	k.Wipe()
	if !bytes.Equal(k.b, make([]byte, 32)) {
		t.Fatal("Wipe left key bytes")
	}
}

// TestOpenSSLVector checks the cipher against an independent implementation: openssl's
// aes-256-cfb (CFB128, as Jet used) encrypts a v1 file that Decrypt must read.
func TestOpenSSLVector(t *testing.T) {
	openssl := hushtest.RequireBinary(t, "openssl")
	raw, key := randomKey(t)
	iv := make([]byte, 16)
	rand.Read(iv)
	pt := "FROM_OPENSSL=yes\nB=2\n"
	cmd := exec.Command(openssl, "enc", "-aes-256-cfb", "-K", hex.EncodeToString(raw), "-iv", hex.EncodeToString(iv))
	cmd.Stdin = strings.NewReader(pt)
	ct, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl: %v", err)
	}
	file := base64.StdEncoding.EncodeToString(append(iv, ct...))
	got, v, err := Decrypt(key, []byte(file))
	if err != nil || v != V1 || string(got) != pt {
		t.Fatalf("Decrypt(openssl output) = %q, v%d, %v", got, v, err)
	}
}
