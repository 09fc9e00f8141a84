// Package detect holds linewatch's univariate detectors: pure streaming
// state machines that turn a sample stream of one tag into findings.
//
// Every detector implements [Detector]: Update takes one sample and appends
// transitions (a condition starts: Active=true; it ends: Active=false) to a
// caller-owned slice, without allocating when nothing happens. Detectors do
// no I/O and take no clock: time comes only from sample timestamps, so the
// same code runs live, on a replay and inside a batch report. State can be
// saved with Snapshot and restored with Restore (JSON, versioned, bound to
// the parameters it was produced with).
//
// Detectors and their finding names (Detector / Rule):
//
//   - [Limits]: lo/hi/lolo/hihi with on-delay, off-delay and deadband, and
//     excursion records (start, end, duration, peak, degree-minutes).
//     "limits" (or "humidity" with [HumidityParams]) / "lo","hi","lolo","hihi".
//   - [Flatline]: stuck sensor (value frozen). "flatline" / "stuck".
//   - [Stale]: no new source timestamp on the machine's clock (value and
//     timestamp frozen). "stale" / "stale".
//   - [RateOfChange]: "roc" / "rise","fall".
//   - [RollingMKT]: mean kinetic temperature (USP <1079>) over a rolling
//     window. "mkt" / "limit".
//   - [TOR]: time-out-of-refrigeration budget. "tor" / "warn50","warn80",
//     "budget","freeze".
//   - [Nelson]: individuals chart with Nelson rules 1–8 (or the Western
//     Electric preset) and the moving-range chart. "nelson" / "nelson1"…"nelson8","mr".
//   - [EWMA]: "ewma" / "upper","lower".
//   - [CUSUM]: tabular CUSUM. "cusum" / "upper","lower".
//   - [PChart]: reject fraction from good/reject counters (with [Counters]),
//     optionally Laney p′. "p_chart" / "upper","lower".
//   - [PageHinkley]: drift. "page_hinkley" / "up","down".
//   - [CpkMonitor]: capability per batch. "cpk" / "low".
//
// Batch functions for reports: [MKT], [MKTOf], [Capability], [Cpk],
// [IMRLimits], [PLimits], [Reconcile] and [ExcursionsOf].
//
// Configuration: a detector's Params struct carries the YAML keys written
// under an analytics rule, with SetDefaults, Check and Build ([Spec],
// [Builder]); [Rule] is the registry of configurable detectors, which
// config.Rule embeds and the engine builds from. See docs/analytics.md,
// "Adding a detector".
//
// Quality: every detector ignores samples whose OPC UA status is not good
// (sample.Sample.Good) and samples whose value is NaN or ±Inf. Time-weighted
// detectors (limits delays, flatline, roc, mkt, tor) also ignore a sample
// older than the last one they accepted.
package detect
