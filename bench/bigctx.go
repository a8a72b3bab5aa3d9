package main

import (
	"context"
	"path/filepath"
)

// bigContext is about 1 GiB: 20k small files and six of 160 MiB of random bytes.
var bigContext = contextShape{SmallFiles: 20000, SmallMax: 2048, BigFiles: 6, BigSize: 160 << 20}

// bigContextSeries times cold hush builds of a 1 GiB context (bigctx), recording the
// peak RSS of hush's process tree. Only hush: the goal is about hush's memory.
func bigContextSeries(ctx context.Context, c config, h builder, logf func(string, ...any)) ([]series, error) {
	dir := filepath.Join(c.work, "bigctx")
	logf("generating the 1 GiB context in %s", dir)
	size, err := generateContext(dir, bigContext)
	if err != nil {
		return nil, err
	}
	logf("1 GiB context: %.2f GiB", float64(size)/(1<<30))
	j := job{Name: bigCtxCase, Dockerfile: filepath.Join(c.testdata, bigCtxCase, "Dockerfile"), Context: dir}
	return timeSeries(ctx, []builder{h}, j, modeCold, c.bigRuns, logf)
}
