package sshagent_test

import (
	"slices"
	"testing"

	"github.com/hush-build/hush/internal/sshagent"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in      string
		want    sshagent.Spec
		wantErr bool
	}{
		{in: "default", want: sshagent.Spec{ID: "default"}},
		{in: "gitlab", want: sshagent.Spec{ID: "gitlab"}},
		{in: "default=/run/agent.sock", want: sshagent.Spec{ID: "default", Paths: []string{"/run/agent.sock"}}},
		{in: "deploy=/k/id_ed25519,/k/id_rsa", want: sshagent.Spec{ID: "deploy", Paths: []string{"/k/id_ed25519", "/k/id_rsa"}}},
		{in: "=/k/id_rsa", want: sshagent.Spec{ID: "default", Paths: []string{"/k/id_rsa"}}},
		{in: "default=", want: sshagent.Spec{ID: "default"}},
		{in: "a=/p=q", want: sshagent.Spec{ID: "a", Paths: []string{"/p=q"}}},
		{in: "", wantErr: true},
		{in: "   ", wantErr: true},
		{in: "a=/x,,/y", wantErr: true},
		{in: "a=/x,", wantErr: true},
		{in: "my id=/x", wantErr: true},
		{in: "a,b", wantErr: true},
		{in: "a\tb", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := sshagent.ParseSpec(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseSpec(%q) = %+v, want error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSpec(%q): %v", tt.in, err)
			}
			if got.ID != tt.want.ID || !slices.Equal(got.Paths, tt.want.Paths) {
				t.Fatalf("ParseSpec(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			again, err := sshagent.ParseSpec(got.String())
			if err != nil || again.ID != got.ID || !slices.Equal(again.Paths, got.Paths) {
				t.Fatalf("String() %q does not round-trip: %+v, %v", got.String(), again, err)
			}
		})
	}
}

func TestParseSpecs(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    []sshagent.Spec
		wantErr bool
	}{
		{name: "none", in: nil, want: nil},
		{
			name: "last wins, first position kept",
			in:   []string{"default", "a=/x", "default=/s", "b"},
			want: []sshagent.Spec{{ID: "default", Paths: []string{"/s"}}, {ID: "a", Paths: []string{"/x"}}, {ID: "b"}},
		},
		{
			name: "empty id is default",
			in:   []string{"default=/one", "=/two"},
			want: []sshagent.Spec{{ID: "default", Paths: []string{"/two"}}},
		},
		{name: "bad value", in: []string{"default", ""}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sshagent.ParseSpecs(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseSpecs(%q) = %+v, want error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSpecs(%q): %v", tt.in, err)
			}
			if !slices.EqualFunc(got, tt.want, func(a, b sshagent.Spec) bool {
				return a.ID == b.ID && slices.Equal(a.Paths, b.Paths)
			}) {
				t.Fatalf("ParseSpecs(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}
