package secretfile

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestReadAll(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 1000)
	for _, hint := range []int{0, 1, 100, len(data), len(data) + 1} {
		got, err := readAll(io.LimitReader(bytes.NewReader(data), int64(len(data))), hint, len(data))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("hint %d: %v", hint, err)
		}
	}
	if _, err := readAll(bytes.NewReader(data), 0, len(data)-1); !errors.Is(err, errTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
}
