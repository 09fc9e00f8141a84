// Command influxd-install builds InfluxDB 1.8.10 into the linewatch cache
// (see package influxd) and prints its path.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/linewatch/linewatch/internal/influxd"
)

func main() {
	path, err := influxd.Install(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("influxd:", path)
}
