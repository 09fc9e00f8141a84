package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/linewatch/linewatch/internal/display"
	"github.com/linewatch/linewatch/reports"
)

func newReportStorageCmd() *cobra.Command {
	var file, location, from, to, jsonOut string
	cmd := &cobra.Command{
		Use:   "storage -c FILE --location ID [--from TIME] [--to TIME] [--json FILE]",
		Short: "Report a storage location over a time range: excursions, MKT, time out of refrigeration and the batches stored there",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" || location == "" {
				return usageError{errors.New("report storage: -c FILE and --location ID are required")}
			}
			cfg, err := loadConfig(file)
			if err != nil {
				return err
			}
			loc := cfg.Reports.StorageLocation(location)
			if loc == nil {
				var ids []string
				for _, l := range cfg.Reports.StorageLocations {
					ids = append(ids, l.ID)
				}
				if len(ids) == 0 {
					return usageError{fmt.Errorf("report storage: no storage location is configured (reports.storage_locations in %s)", file)}
				}
				return usageError{fmt.Errorf("report storage: --location %q: not in reports.storage_locations (%s)", location, strings.Join(ids, ", "))}
			}
			f, err := display.New(cfg)
			if err != nil {
				return err
			}
			now := time.Now().UTC()
			end, err := parseReportTime("--to", to, now, f.Location())
			if err != nil {
				return err
			}
			start, err := parseReportTime("--from", from, end.Add(-24*time.Hour), f.Location())
			if err != nil {
				return err
			}
			src, err := reports.NewInflux(cfg.InfluxDB)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			sr, err := reports.BuildStorage(cmd.Context(), cfg, *loc, start, end, src, src, reports.Options{})
			if err != nil {
				return withCode(ExitFailure, err)
			}
			if jsonOut != "" {
				b, err := json.MarshalIndent(sr, "", "  ")
				if err != nil {
					return withCode(ExitFailure, err)
				}
				if err := writeFileAtomic(jsonOut, append(b, '\n')); err != nil {
					return withCode(ExitFailure, err)
				}
			}
			return sr.WriteText(cmd.OutOrStdout(), cfg, f)
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "config file (reports.storage_locations, influxdb)")
	cmd.Flags().StringVar(&location, "location", "", "storage location id (reports.storage_locations)")
	cmd.Flags().StringVar(&from, "from", "", "start: RFC 3339, YYYY-MM-DD[ HH:MM] in the site time zone, or a duration before --to (default 24h)")
	cmd.Flags().StringVar(&to, "to", "", "end: RFC 3339, YYYY-MM-DD[ HH:MM] in the site time zone (default now)")
	cmd.Flags().StringVar(&jsonOut, "json", "", "also write the report as JSON to this file")
	return cmd
}

// parseReportTime reads a time flag: RFC 3339, a date or date and minute
// in the site zone, or a duration back from def.
func parseReportTime(flag, s string, def time.Time, loc *time.Location) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return def.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, usageError{fmt.Errorf("%s %q: want RFC 3339 (2026-12-05T08:00:00Z), YYYY-MM-DD[ HH:MM] in the site zone %s, or a duration (24h)", flag, s, loc)}
}
