package dockerfmt

import (
	"bytes"
	"testing"
)

func TestEllipsis(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"longer than ten", 10, "longer th…"},
		{"日本語のテキスト", 7, "日本語…"},
		{"日本語", 6, "日本語"},
		{"abc", 1, "a"},
		{"", 1, ""},
		{"abc", 0, ""},
	}
	for _, tt := range tests {
		if got := Ellipsis(tt.in, tt.max); got != tt.want {
			t.Errorf("Ellipsis(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

func TestTruncateID(t *testing.T) {
	for in, want := range map[string]string{
		"sha256:0123456789abcdef0123": "0123456789ab",
		"0123456789abcdef":            "0123456789ab",
		"<missing>":                   "<missing>",
	} {
		if got := TruncateID(in); got != want {
			t.Errorf("TruncateID(%q) = %q, want %q", in, got, want)
		}
	}
}

type row struct{ a, b string }

func (r *row) Header() map[string]string { return map[string]string{"A": "COLUMN A", "B": "B"} }
func (r *row) A() string                 { return r.a }
func (r *row) B() string                 { return r.b }

// TestWrite: docker's format forms: a table with headers and padded columns, a plain
// template per row, \t and \n escapes, template functions.
func TestWrite(t *testing.T) {
	rows := []Row{&row{"x", "1"}, &row{"longer", "22"}}
	tests := []struct{ format, want string }{
		{`table {{.A}}\t{{.B}}`, "COLUMN A   B\nx          1\nlonger     22\n"},
		{`{{.A}}:{{.B}}`, "x:1\nlonger:22\n"},
		{`  {{.A}}\n{{upper .B}}  `, "x\n1\nlonger\n22\n"},
		{`{{json .A}}`, "\"x\"\n\"longer\"\n"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		if err := Write(&out, Format(tt.format), &row{}, rows); err != nil {
			t.Fatal(err)
		}
		if out.String() != tt.want {
			t.Errorf("%q:\n%q\nwant\n%q", tt.format, out.String(), tt.want)
		}
	}
	if err := Write(&bytes.Buffer{}, "{{.Nope", &row{}, rows); err == nil {
		t.Error("a bad template was accepted")
	}
}
