package secret

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseEnvFile(t *testing.T) {
	cases := []struct {
		name, in string
		want     []EnvVar // nil with err set means an error
		err      string
	}{
		{name: "empty", in: "", want: []EnvVar{}},
		{name: "comments and blanks", in: "# c\n\n  # indented\nA=1\n", want: []EnvVar{{"A", []byte("1")}}},
		{name: "export and spaces", in: "export  TOKEN = abc  \n", want: []EnvVar{{"TOKEN", []byte("abc")}}},
		{name: "no inline comments", in: "A=x #note\nB=y#not-a-comment\n", want: []EnvVar{{"A", []byte("x #note")}, {"B", []byte("y#not-a-comment")}}},
		{name: "empty value", in: "A=\nB=''\n", want: []EnvVar{{"A", []byte{}}, {"B", nil}}},
		{name: "crlf", in: "A=1\r\nB=\"2\"\r\n", want: []EnvVar{{"A", []byte("1")}, {"B", []byte("2")}}},
		{name: "single quotes literal", in: `A='x\ny $Z "q"'`, want: []EnvVar{{"A", []byte(`x\ny $Z "q"`)}}},
		{name: "double quote escapes", in: `A="l1\nl2\t\"q\" \\ \$x \z"`, want: []EnvVar{{"A", []byte("l1\nl2\t\"q\" \\ $x \\z")}}},
		{name: "multi-line quoted", in: "KEY=\"-----BEGIN KEY-----\nabc\n-----END KEY-----\"\nNEXT=1\n",
			want: []EnvVar{{"KEY", []byte("-----BEGIN KEY-----\nabc\n-----END KEY-----")}, {"NEXT", []byte("1")}}},
		{name: "multi-line single quoted", in: "K='a\nb' # c\n", want: []EnvVar{{"K", []byte("a\nb")}}},
		{name: "duplicate keeps last", in: "A=1\nB=2\nA=3\n", want: []EnvVar{{"A", []byte("3")}, {"B", []byte("2")}}},
		{name: "dotted and dashed keys", in: "a.b-c_1=v", want: []EnvVar{{"a.b-c_1", []byte("v")}}},
		{name: "value with equals", in: "A=b=c", want: []EnvVar{{"A", []byte("b=c")}}},
		{name: "no equals", in: "A\n", err: "line 1: expected NAME=value"},
		{name: "bad key", in: "1A=x\n", err: "line 1: expected a variable name"},
		{name: "unterminated", in: "A=1\nB=\"abc\nmore\n", err: "line 2: B: unterminated \"-quoted"},
		{name: "text after quote", in: "A='x' y\n", err: "line 1: A: unexpected text"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEnvFile(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !errors.Is(err, ErrEnvFile) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d vars %q, want %q", len(got), got, tc.want)
			}
			for i := range got {
				if got[i].Key != tc.want[i].Key || string(got[i].Value) != string(tc.want[i].Value) {
					t.Errorf("var %d = %s=%q, want %s=%q", i, got[i].Key, got[i].Value, tc.want[i].Key, tc.want[i].Value)
				}
			}
		})
	}
}

func TestParseEnvFileErrorsHideValues(t *testing.T) {
	_, err := ParseEnvFile(strings.NewReader("A='sup3rsecret\n"))
	if err == nil || strings.Contains(err.Error(), "sup3rsecret") {
		t.Fatalf("err %v", err)
	}
}

func TestReadEnvFilePlain(t *testing.T) {
	p := filepath.Join(t.TempDir(), "secrets.env")
	if err := os.WriteFile(p, []byte("TOKEN=abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadEnvFile(p, os.LookupEnv)
	if err != nil || len(got) != 1 || string(got[0].Value) != "abc" {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := ReadEnvFile(p+".missing", os.LookupEnv); err == nil {
		t.Fatal("missing file accepted")
	}
}

// TestEnvFileErrorsDoNotEchoValues: a line that is not NAME=value (a raw token given by
// mistake) is reported by line number only.
func TestEnvFileErrorsDoNotEchoValues(t *testing.T) {
	for _, in := range []string{"ghp_CANARYtoken1234567890\n", "A=1\nsecret.value-CANARY\n"} {
		_, err := ParseEnvFile(strings.NewReader(in))
		if err == nil || strings.Contains(err.Error(), "CANARY") {
			t.Errorf("ParseEnvFile(%q) = %v; want an error without the value", in, err)
		}
	}
}
