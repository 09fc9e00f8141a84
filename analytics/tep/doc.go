// Package tep benchmarks the pca detector on the Tennessee Eastman process
// data of the Braatz group (Chiang, Russell & Braatz 2001): per-fault
// detection rates over rows 161–960 of dNN_te.dat and the false-alarm rate
// on d00_te.dat, for plain PCA and for an improved method (PCA or dynamic
// PCA with T², Q and optionally the residual T², EWMA-smoothed, with limits
// calibrated on normal data) whose hyperparameters are chosen on training
// data only (Select).
//
// Load reads the data set (ReadDat handles d00.dat, which is stored
// transposed); Run evaluates both methods and Report.Markdown renders
// docs/benchmarks/tep.md. The command is cmd/tepbench. The data set lives
// outside the repository: TestBraatzFigures runs the benchmark when it is
// present (LINEWATCH_TEP_DATA or ../shared/datasets/tep) and holds the
// figures and the generated report; the other tests use synthetic data.
package tep
