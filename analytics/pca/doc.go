// Package pca is linewatch's multivariate detector: principal component
// analysis monitoring with Hotelling's T² and the squared prediction error
// Q (SPE), for lines where a fault shows as a broken correlation between
// tags long before any single tag leaves its limits.
//
// Train (or TrainCSV for a wide CSV export) fits a Model on a reference
// period: each variable is autoscaled, the loadings are the leading
// eigenvectors of the correlation matrix (gonum mat.EigenSym), the T² limit
// comes from the F distribution and the Q limit from Jackson–Mudholkar
// (gonum stat/distuv). Options.Lags > 0 gives dynamic PCA (each observation
// augmented with its predecessors). Options.ResidualT2 adds a third
// statistic, Hotelling's T² of the residual components (T²_r, rule "t2r";
// its loadings and limit are stored only in models that have it), which
// sees a broken tight relation between variables that Q averages away.
// Model.Score computes T² and Q of one observation without allocating
// (ScoreAll adds T²_r); Model.Contributions and ResidualContributions split
// them over the variables so an alarm can name the tags that drove it.
//
// A Model is stored as a versioned JSON file (FileVersion) holding variable
// names, means, standard deviations, loadings, eigenvalues, the number of
// components, alpha, limits, the optional Filter and the training range and
// source, plus a SHA-256 of the content: ReadModel/Load return ErrChecksum
// when the file was edited. The checksum shows accidental or naive edits;
// it is not a signature (anyone who can write the file can recompute it).
//
// Detector wraps a Model for streaming use: it takes one aligned
// observation vector at a time, optionally smooths T² and Q with an EWMA
// and applies a persistence rule (Filter; limits from TheoreticalFilter or
// CalibrateFilter on normal reference data), and emits analytics.Finding
// transitions with Detector "pca", Rule "t2", "q" or "t2r", Tag = model name and
// the top contributions as Evidence. Detector.Snapshot/Restore save and load
// its streaming state (filtered statistics, persistence counters, active
// conditions, lag window) as versioned JSON for checkpoints; Restore refuses
// (ErrSnapshotModel) a snapshot of another model, a retrained model (SHA-256
// of the model file form) or another filter.
//
// Benchmarks against the Tennessee Eastman process are in
// analytics/tep and docs/benchmarks/tep.md.
package pca
