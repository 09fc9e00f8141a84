// Package simulator is linewatch's OPC UA plant simulator: a real OPC UA
// server (gopcua v0.9.0 server package) on loopback whose values behave like
// plant equipment, so every other part of linewatch can be tested and
// demonstrated against it.
//
// The built-in plant ([DefaultPlant]) has an aseptic vial filling line with a
// checkweigher, a 2–8 °C cold room, a tablet press and a freeze dryer, in
// namespace [NamespaceURI] (index 2) with string node ids
// "ns=2;s=<line>.<machine>.<tag>". A plant file ([LoadPlant]) changes model
// parameters, adds lines and generic tags and schedules faults.
//
// Physics runs in fixed 1 s steps of simulated time, seeded per tag
// (AR(1) noise, thermostat cycling, batch cycles, correlated press
// variables), so a seed and a plant give the same values on every run.
// [Options.Speed] sets how many simulated seconds pass per real second;
// Speed 0 is a manual clock that only [Simulator.Advance] moves, which is
// how tests check that a fault is observable exactly when scheduled.
//
// Faults ([Fault], [FaultKind]) are scheduled in the plant file, injected
// with [Simulator.Inject] or through the HTTP control endpoint; every fault
// is kept in [Simulator.FaultLog] with the simulated time it took effect.
//
// Security follows a real server: endpoints None and Basic256Sha256
// Sign/SignAndEncrypt, a server certificate persisted in [Options.PKIDir],
// user names and passwords checked by the simulator (gopcua does not) with
// wrong credentials refused as BadUserAccessDenied, and every service refused
// on sessions that were not activated.
//
// Main types: [Options] and [Start] build a [Simulator]; [Plant], [LineSpec]
// and [TagSpec] describe the plant; [Fault] and [FaultRecord] describe faults.
package simulator
