// Command tepbench runs the Tennessee Eastman benchmark of the PCA detector
// (T², Q, residual T²) and writes docs/benchmarks/tep.md.
//
//	go run ./analytics/tep/cmd/tepbench -data ../shared/datasets/tep -out docs/benchmarks/tep.md
//
// Without -data it looks for ../shared/datasets/tep next to the repository
// root (the directory holding go.mod); when the data set is absent it says
// so and exits 0, so it is safe to run anywhere.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/linewatch/linewatch/analytics/tep"
)

func main() {
	os.Exit(run())
}

func run() int {
	dataDir := flag.String("data", "", "directory with the Braatz TEP files (default: <repo root>/../shared/datasets/tep)")
	out := flag.String("out", "", "markdown file to write (default: stdout)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	dir := *dataDir
	if dir == "" {
		root, err := repoRoot()
		if err != nil {
			log.Error("cannot find the repository root; pass -data", "err", err)
			return 2
		}
		dir = filepath.Join(root, "..", "shared", "datasets", "tep")
	}
	d, err := tep.Load(dir)
	if errors.Is(err, tep.ErrNoData) {
		fmt.Fprintf(os.Stderr, "tepbench: skipped: TEP data set not found at %s (pass -data DIR)\n", dir)
		return 0
	}
	if err != nil {
		log.Error("load TEP data", "dir", dir, "err", err)
		return 1
	}
	rep, err := tep.Run(ctx, d)
	if err != nil {
		log.Error("TEP benchmark", "err", err)
		return 1
	}
	cmd := "go run ./analytics/tep/cmd/tepbench"
	if *dataDir != "" {
		cmd += " -data " + *dataDir
	}
	if *out != "" {
		cmd += " -out " + *out
	}
	md := rep.Markdown(cmd)
	if *out == "" {
		os.Stdout.Write(md)
		return 0
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		log.Error("create output directory", "err", err)
		return 1
	}
	if err := os.WriteFile(*out, md, 0o644); err != nil {
		log.Error("write report", "file", *out, "err", err)
		return 1
	}
	pm, mm := rep.Plain.MeanMissed(tep.Excluded...), rep.Improved.MeanMissed(tep.Excluded...)
	log.Info("TEP benchmark written", "file", *out,
		"plain_missed", pm.Combined, "plain_far", rep.Plain.FalseAlarm.Combined,
		"improved", rep.Improved.Method.Name, "improved_missed", mm.Combined, "improved_far", rep.Improved.FalseAlarm.Combined)
	return 0
}

// repoRoot walks up from the working directory to the directory holding
// go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir || strings.TrimSpace(parent) == "" {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
