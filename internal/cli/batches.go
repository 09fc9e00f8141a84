package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/linewatch/linewatch/sample"

	"github.com/spf13/cobra"

	"github.com/linewatch/linewatch/internal/display"
	"github.com/linewatch/linewatch/reports"
)

func newBatchesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "batches",
		Short: "List batches recorded by the collector",
	}
	cmd.AddCommand(newBatchesListCmd())
	return cmd
}

func newBatchesListCmd() *cobra.Command {
	var file, line, since string
	cmd := &cobra.Command{
		Use:   "list -c FILE [--line L] [--since 24h|RFC3339]",
		Short: "List batches (id, line, product, start, end) from InfluxDB measurement batches",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return usageError{fmt.Errorf("batches list: -c FILE required (the InfluxDB to read)")}
			}
			cfg, err := loadConfig(file)
			if err != nil {
				return err
			}
			var from time.Time
			if since != "" {
				if from, err = parseSince(since, time.Now()); err != nil {
					return err
				}
			}
			src, err := reports.NewInflux(cfg.InfluxDB)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			bs, err := src.Batches(cmd.Context(), cfg.Site, line, from)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			f := display.MustNew(cfg)
			fmt.Fprintln(w, "BATCH\tLINE\tPRODUCT\tSTART\tEND")
			for _, b := range bs {
				end := "running"
				if !b.Running() {
					end = f.Time(b.End)
				}
				// Outside text: percent-encoded, no control characters to the terminal.
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", sample.Escape(b.ID), b.Line, sample.Escape(b.Product), f.Time(b.Start), end)
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "config file")
	cmd.Flags().StringVar(&line, "line", "", "only this line")
	cmd.Flags().StringVar(&since, "since", "", "only batches started after this (duration back from now, or RFC 3339)")
	return cmd
}
