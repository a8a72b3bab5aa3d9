package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholders for verbs being built in parallel; each is replaced by its own file.

func pending(use, short string) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Hidden: true,
		RunE: func(*cobra.Command, []string) error { return errors.New(use + ": not implemented yet") }}
}
