package cli

import (
	"slices"
	"testing"
)

// TestStateCommands: the commands that read or change the state dir are the ones an
// ordinary user's hush runs in its user namespace; lint and secret stay where they are.
func TestStateCommands(t *testing.T) {
	want := []string{"audit", "bake", "build", "du", "history", "images", "import", "info", "inspect", "load", "prune", "push", "rmi", "run", "steps"}
	var got []string
	for _, c := range NewRoot().Commands() {
		if c.Annotations[stateAnnotation] != "" {
			got = append(got, c.Name())
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("state commands = %v, want %v", got, want)
	}
}
