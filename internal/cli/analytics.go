package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/linewatch/linewatch/analytics/pca"
)

func newAnalyticsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "analytics",
		Short: "Train and inspect analytics models",
	}
	cmd.AddCommand(newAnalyticsTrainCmd())
	return cmd
}

func newAnalyticsTrainCmd() *cobra.Command {
	var (
		input, out, name string
		opts             pca.Options
	)
	cmd := &cobra.Command{
		Use:   "train --csv FILE --name NAME -o model.json",
		Short: "Train a multivariate PCA model (Hotelling T² and Q limits) on in-control reference data",
		Long: `Trains a PCA model on a reference period of normal operation and saves it as
a model file (JSON with a version and a SHA-256 of its content, see docs/analytics.md).
The CSV is wide: an RFC 3339 time column, then one column per variable, in time
order. Reference it from analytics.models in the config with the tags in the same
order as the CSV columns.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if input == "" || out == "" || name == "" {
				return usageError{errors.New("train: --csv, --name and -o are required")}
			}
			f, err := os.Open(input)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			defer f.Close()
			opts.Name, opts.Source = name, input
			m, err := pca.TrainCSV(f, opts)
			if err != nil {
				return withCode(ExitFailure, fmt.Errorf("train %s: %w", input, err))
			}
			if err := m.Save(out); err != nil {
				return withCode(ExitFailure, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "model %s: %d variables, %d components, T² limit %.4g, Q limit %.4g (α = %g), written to %s\n",
				name, len(m.Variables), m.Components, m.T2Limit, m.QLimit, m.Alpha, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&input, "csv", "", "wide CSV of in-control reference data")
	cmd.Flags().StringVarP(&out, "output", "o", "", "model file to write")
	cmd.Flags().StringVar(&name, "name", "", "model name (the tag of its findings)")
	cmd.Flags().IntVar(&opts.Components, "components", 0, "retained components a (0 = by cumulative variance)")
	cmd.Flags().Float64Var(&opts.CPV, "cpv", 0.9, "cumulative fraction of variance when --components is 0")
	cmd.Flags().Float64Var(&opts.Alpha, "alpha", 0.01, "false-alarm probability of the T² and Q limits")
	cmd.Flags().IntVar(&opts.Lags, "lags", 0, "dynamic PCA: previous observations added to each (0 = static)")
	return cmd
}
