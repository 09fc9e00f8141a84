// Command linewatch monitors pharmaceutical manufacturing lines: it collects
// OPC UA values into InfluxDB, detects spoilage and waste drift, raises
// alarms on NATS and produces signed QA batch reports.
//
// main stays thin: it wires signals to a context and turns the result of the
// command tree into an exit code (see internal/cli).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/linewatch/linewatch/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
