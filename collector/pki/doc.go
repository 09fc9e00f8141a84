// Package pki keeps the collector's OPC UA certificates on disk: the
// application instance certificate (created once under own/, reused at every
// restart so servers that trusted it keep trusting it), the trust list of
// server certificates (trusted/) and the server certificates the collector
// refused (rejected/), which `linewatch pki trust` moves to the trust list.
//
// Certificates are identified by their SHA-1 thumbprint in upper-case hex, the
// OPC UA convention (Part 6, 6.2.3) that plant engineers see in UaExpert and
// server admin tools.
package pki
