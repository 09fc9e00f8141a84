// Package dashboards generates Grafana provisioning from the linewatch
// config: an InfluxDB data source (InfluxQL, which runs on InfluxDB 1.8, on
// 2.x through DBRP mappings and on 3.x), a file dashboard provider and the
// dashboards, built with the Grafana Foundation SDK (no JSON templates):
//
//   - plant overview: line states, active alarms by priority, good and
//     reject rates, current batch per line, collector connections;
//   - one dashboard per line: every tag's trend with its alarm and
//     specification limits as thresholds, alarm transitions and batch
//     start/end as annotations;
//   - SPC: individuals chart with centre line and control limits, Nelson-rule
//     alarms, EWMA and CUSUM per critical tag;
//   - cold chain: temperatures against the storage band, rolling MKT, time
//     out of refrigeration used;
//   - waste: reject-fraction p-charts, weight capability per batch;
//   - collector health: connections, latency, reconnects, bad-quality
//     share, spool, publish errors.
//
// Generate and GenerateWith write the files; Build returns the dashboards
// in memory together with every InfluxQL query they run (Query) and the
// columns each panel reads, which the tests execute against a real InfluxDB.
// Decode is the strict reader (the SDK's strict unmarshal, with its typed-nil
// error fixed) used to prove the output follows Grafana's schema.
//
// InfluxQuery is the raw InfluxQL target type: SDK v0.0.18 has none for
// InfluxDB, so the package registers it as the "influxdb" dataquery variant.
// Queries follow what linewatch writes (docs/grafana.md, "Schema the
// dashboards read": telemetry, alarms, batches, spc, collector_status,
// collector_metrics); the tests prove it on real pipeline output.
package dashboards
