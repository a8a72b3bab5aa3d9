package secretfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/armor"
)

const canary = "hush-canary-7f3c9a1e"

func newIdentity(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// binaryEncrypt makes an unarmored age file.
func binaryEncrypt(t *testing.T, pt []byte, r age.Recipient) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(pt)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	id := newIdentity(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 10000) // several 64 KiB chunks
	for _, tc := range []struct {
		name string
		pt   []byte
	}{
		{"empty", []byte{}},
		{"text", []byte("NPM_TOKEN=" + canary + "\n")},
		{"binary", []byte{0, 1, 2, 0xff, 0xfe, '\n'}},
		{"large", big},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct, err := Encrypt(tc.pt, id.Recipient())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(ct, []byte(armor.Header+"\n")) || !bytes.HasSuffix(bytes.TrimSpace(ct), []byte(armor.Footer)) {
				t.Fatalf("not armored: %.80q", ct)
			}
			if len(tc.pt) > 0 && bytes.Contains(ct, tc.pt) {
				t.Fatal("ciphertext contains the plaintext")
			}
			for name, data := range map[string][]byte{"armored": ct, "binary": binaryEncrypt(t, tc.pt, id.Recipient())} {
				if !IsEncrypted(data) {
					t.Fatalf("%s: IsEncrypted = false", name)
				}
				got, err := Decrypt(data, newIdentity(t), id)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if !bytes.Equal(got, tc.pt) {
					t.Fatalf("%s: round trip changed the data (%d bytes, want %d)", name, len(got), len(tc.pt))
				}
			}
		})
	}
}

func TestEncryptMultipleRecipients(t *testing.T) {
	a, b := newIdentity(t), newIdentity(t)
	ct, err := Encrypt([]byte(canary), a.Recipient(), b.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []age.Identity{a, b} {
		if got, err := Decrypt(ct, id); err != nil || string(got) != canary {
			t.Fatalf("Decrypt = %q, %v", got, err)
		}
	}
	if _, err := Encrypt([]byte("x")); err == nil {
		t.Fatal("Encrypt with no recipients succeeded")
	}
}

func TestIsEncrypted(t *testing.T) {
	for _, tc := range []struct {
		data string
		want bool
	}{
		{"age-encryption.org/v1\n-> X25519 abc\n", true},
		{armor.Header + "\nYWdl\n" + armor.Footer + "\n", true},
		{"\n\n  " + armor.Header + "\n", true},
		{"NPM_TOKEN=abc\n", false},
		{"age-encryption.org/v1", false},
		{"", false},
		{"# " + armor.Header + "\n", false},
	} {
		if got := IsEncrypted([]byte(tc.data)); got != tc.want {
			t.Errorf("IsEncrypted(%q) = %v, want %v", tc.data, got, tc.want)
		}
	}
}

func TestDecryptErrors(t *testing.T) {
	id := newIdentity(t)
	pt := []byte("SECRET=" + canary + strings.Repeat(".", 200) + "\n")
	ct, err := Encrypt(pt, id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	bin := binaryEncrypt(t, pt, id.Recipient())
	lines := strings.Split(strings.TrimSpace(string(ct)), "\n")

	// An armored file whose payload was altered after encryption, armor still valid.
	flipped := bytes.Clone(bin)
	flipped[len(flipped)-1] ^= 1
	var rearmored bytes.Buffer
	aw := armor.NewWriter(&rearmored)
	aw.Write(flipped)
	aw.Close()
	// A header MAC that no longer matches.
	badMAC := bytes.Clone(bin)
	macAt := bytes.Index(badMAC, []byte("\n--- ")) + 5
	badMAC[macAt] ^= 1

	for _, tc := range []struct {
		name string
		data []byte
		ids  []age.Identity
		want error
		text string
	}{
		{"wrong identity", ct, []age.Identity{newIdentity(t)}, ErrNoIdentityMatch, "no identity matched"},
		{"no identities", ct, nil, ErrNoIdentity, "no age identity"},
		{"truncated armor", ct[:len(ct)/2], []age.Identity{id}, ErrCorrupt, "truncated"},
		{"armor without footer", []byte(strings.Join(lines[:len(lines)-1], "\n") + "\n"), []age.Identity{id}, ErrCorrupt, "truncated"},
		{"tampered armored payload", rearmored.Bytes(), []age.Identity{id}, ErrCorrupt, "tampered"},
		{"tampered armor text", []byte(strings.Replace(string(ct), lines[len(lines)-2], strings.Repeat("A", len(lines[len(lines)-2])), 1)), []age.Identity{id}, ErrCorrupt, "tampered"},
		{"truncated binary", bin[:len(bin)-10], []age.Identity{id}, ErrCorrupt, "truncated"},
		{"tampered binary", flipped, []age.Identity{id}, ErrCorrupt, "tampered"},
		{"tampered header MAC", badMAC, []age.Identity{id}, ErrCorrupt, "tampered"},
		{"not age", []byte("KEY=value\n"), []age.Identity{id}, nil, "not an age-encrypted file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decrypt(tc.data, tc.ids...)
			if err == nil {
				t.Fatalf("Decrypt succeeded with %d bytes", len(got))
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error %q does not wrap %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %q does not say %q", err, tc.text)
			}
			if strings.Contains(err.Error(), canary) || strings.Contains(err.Error(), "AGE-SECRET-KEY") {
				t.Fatalf("error leaks secret material: %q", err)
			}
		})
	}
}

func TestRekey(t *testing.T) {
	oldID, newID := newIdentity(t), newIdentity(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "npmrc.age")
	if err := WriteEncrypted(path, []byte(canary), 0o640, oldID.Recipient()); err != nil {
		t.Fatal(err)
	}
	sidecar := SidecarPath(path)
	if err := os.WriteFile(sidecar, FormatRecipients([]age.Recipient{oldID.Recipient()}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Rekey(path, []age.Identity{newIdentity(t)}, []age.Recipient{newID.Recipient()}); !errors.Is(err, ErrNoIdentityMatch) {
		t.Fatalf("Rekey with a foreign identity: %v, want ErrNoIdentityMatch", err)
	}
	if err := Rekey(path, []age.Identity{oldID}, []age.Recipient{newID.Recipient()}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Decrypt(data, newID); err != nil || string(got) != canary {
		t.Fatalf("new identity: %q, %v", got, err)
	}
	if _, err := Decrypt(data, oldID); !errors.Is(err, ErrNoIdentityMatch) {
		t.Fatalf("old identity still opens the rekeyed file: %v", err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, want 0640 kept", fi.Mode().Perm())
	}
	rs, err := ReadRecipientsFile(sidecar)
	if err != nil || len(rs) != 1 || rs[0].(*age.X25519Recipient).String() != newID.Recipient().String() {
		t.Fatalf("sidecar not rewritten to the new recipient: %v %v", rs, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("dir holds %d entries, want the file and its sidecar (temp files left?)", len(entries))
	}
}
