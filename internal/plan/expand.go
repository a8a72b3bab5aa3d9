package plan

import (
	"fmt"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// The expansions here read a parsed instruction and return new values; none writes into
// the instruction. They expand the words BuildKit's Expand and ExpandRaw methods do, in
// the same order, but those methods rewrite the command in place.

func (s *State) expand(word string) (string, error) {
	return ExpandWord(s.lex, word, s.run)
}

// expandAll expands each word into a new slice.
func (s *State) expandAll(words []string) ([]string, error) {
	if words == nil {
		return nil, nil
	}
	out := make([]string, len(words))
	for i, w := range words {
		v, err := s.expand(w)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// expandPairs expands the keys and values of ENV or LABEL, naming the key in errors.
func (s *State) expandPairs(kind string, kvs instructions.KeyValuePairs) (instructions.KeyValuePairs, error) {
	out := make(instructions.KeyValuePairs, len(kvs))
	for i, kv := range kvs {
		k, err := s.expand(kv.Key)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kind, err)
		}
		v, err := s.expand(kv.Value)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", kind, k, err)
		}
		out[i] = instructions.KeyValuePair{Key: k, Value: v, NoDelim: kv.NoDelim}
	}
	return out, nil
}

// expandRaw expands heredoc contents of COPY/ADD with an unquoted delimiter, as BuildKit
// does: variables only, quotes kept. The contents may be long; only what the variables
// add is bounded.
func (s *State) expandRaw(word string) (string, error) {
	raw := shell.NewLex('\\')
	raw.SkipProcessQuotes = true
	b := newBudget(s.run, word)
	v, _, err := raw.ProcessWord(word, b)
	if b.over != "" {
		return "", tooBig(word, b.over)
	}
	if err != nil {
		return "", lexError(word, err)
	}
	return v, nil
}

// expandCopy replaces the words of cs, which still alias the parsed COPY or ADD, with
// new expanded values: --chown, --chmod, --checksum, sources, dest, heredoc contents.
func (s *State) expandCopy(cs *CopySpec) error {
	for _, w := range []*string{&cs.Chown, &cs.Chmod, &cs.Checksum} {
		v, err := s.expand(*w)
		if err != nil {
			return err
		}
		*w = v
	}
	var err error
	if cs.Sources, err = s.expandAll(cs.Sources); err != nil {
		return err
	}
	if cs.Dest, err = s.expand(cs.Dest); err != nil {
		return err
	}
	if cs.Contents == nil {
		return nil
	}
	contents := make([]instructions.SourceContent, len(cs.Contents))
	for i, c := range cs.Contents {
		if c.Expand {
			if c.Data, err = s.expandRaw(c.Data); err != nil {
				return err
			}
		}
		contents[i] = c
	}
	cs.Contents = contents
	return nil
}

// expandMounts expands the --mount options of c. BuildKit keeps them unexpanded only
// inside the command, where RunCommand.Expand parses them again and replaces the
// command's mounts, so Expand is called on a fresh parse of c, never on c itself. A RUN
// that is not from the plan's file (an ONBUILD trigger: OnBuild returns new commands on
// every call, for one State) is the caller's own and is expanded as it is.
func (s *State) expandMounts(c *instructions.RunCommand) ([]*instructions.Mount, error) {
	fresh, ok, err := s.plan.File.Reparse(c)
	if err != nil {
		return nil, err
	}
	if ok {
		c = fresh.(*instructions.RunCommand)
	}
	if err := c.Expand(s.expand); err != nil {
		return nil, err
	}
	return instructions.GetMounts(c), nil
}
