package main

import (
	"math"
	"slices"
	"time"
)

// summary is the spread of one series of timings.
type summary struct {
	N      int           `json:"n"`
	Median time.Duration `json:"median_ns"`
	Min    time.Duration `json:"min_ns"`
	Max    time.Duration `json:"max_ns"`
}

// summarize returns the median, minimum and maximum of samples; the median of an
// even count is the mean of the two middle values. An empty series gives a zero summary.
func summarize(samples []time.Duration) summary {
	if len(samples) == 0 {
		return summary{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return summary{N: n, Median: med, Min: s[0], Max: s[n-1]}
}

// ratio is a/b, or NaN when b is not positive (no reference figure).
func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// perStep is the cost of one added step: (with − without) / steps. It is zero when
// steps is not positive.
func perStep(with, without time.Duration, steps int) time.Duration {
	if steps <= 0 {
		return 0
	}
	return (with - without) / time.Duration(steps)
}

// slot is one timed run in a schedule: which builder, and which of its runs.
type slot struct {
	Builder int
	Run     int
}

// alternate orders n runs of each of builders builders round by round —
// A B C A B C … — so that drift in the machine (page cache, thermal, a neighbour's
// load) spreads evenly over the builders instead of landing on one of them.
func alternate(builders, n int) []slot {
	if builders <= 0 || n <= 0 {
		return nil
	}
	out := make([]slot, 0, builders*n)
	for r := range n {
		for b := range builders {
			out = append(out, slot{Builder: b, Run: r})
		}
	}
	return out
}
