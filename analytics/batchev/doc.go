// Package batchev monitors batch processes against the trajectories of good
// batches ("golden batch", batch evolution monitoring): the freeze dryer's
// lyophilisation cycle, and any line whose batches run through named phases.
//
// Alignment (Aligner): each batch is cut by its phase tag into phases, and
// each phase into maturity slices of Step of elapsed phase time (maturity =
// time since the phase began: recipe-driven cycles run their phases on the
// clock, so equal elapsed time is equal progress). A slice's observation is
// the mean of each variable's good samples in it.
//
// Model (Train): per phase and maturity slice, each variable's mean and
// standard deviation over the good batches (the ±Sigma·σ envelope), and a
// local PCA of the autoscaled deviations from the mean trajectory, pooled
// over the Window slices either side, with Hotelling T² and SPE (Q) limits.
// This is the observation-level batch evolution model of Wold, Kettaneh,
// Fridén & Holmberg (1998, Chemometr. Intell. Lab. 44:331) with a local
// (per-maturity) PCA in place of PLS on maturity, on the batch-wise aligned
// data of Nomikos & MacGregor (1995, Technometrics 37:41). The limits are
// pca.T2Limit (F distribution) and pca.QLimit (Jackson–Mudholkar).
//
// Detection (Detector): the running batch is aligned the same way; a
// variable outside its envelope for Consecutive slices in a row, or T² or
// SPE over its limit for Consecutive slices, raises a finding naming the
// variables; a phase that ends well before any good batch's did, or runs
// past the longest, raises a phase finding. The engine feeds it live and on
// replay with the same code; reports align with the same Aligner.
//
// The model file is JSON with a version, the source batches and a SHA-256
// of its content (ReadModel rejects an altered file).
package batchev
