// Package unencodable owns the metric linewatch_values_unencodable_total
// {sink, reason}: values a sink (InfluxDB, NATS) could not carry whole. Each
// such value costs only itself: it is stored or sent with what could be
// kept (e.g. restamped, text cut) and counted here. The store and the
// collector register the same counter; whichever comes second reuses it.
package unencodable
