package analytics

// ProcessOrder merges the machine-state changes and the findings of one
// telemetry message, each in the engine's order, into process-time
// order: a state goes before every finding not older than it (a state
// holds from its sample's time on, so a finding of that same poll is one
// of the new state), a finding before a later state (a batch-end finding
// carries the last sample of the batch, before the CIP that starts the
// next). Neither list is reordered within itself.
func ProcessOrder(states []MachineState, fs []Finding) []Message {
	out := make([]Message, 0, len(states)+len(fs))
	i, j := 0, 0
	for i < len(states) || j < len(fs) {
		if i < len(states) && (j == len(fs) || !states[i].Time.After(fs[j].Time)) {
			out = append(out, Message{MachineState: &states[i]})
			i++
			continue
		}
		out = append(out, Message{Finding: &fs[j]})
		j++
	}
	return out
}
