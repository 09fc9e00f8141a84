package detect

// Quantity is what a finding's Value, Statistic or Limit measures, so that
// a table or an alarm row beside the message writes it with the right unit:
// a flatline's limit is seconds and a TOR warning's is a percentage, not a
// value of the tag.
type Quantity uint8

// Quantities of findings.
const (
	InTagUnit Quantity = iota // the tag's unit and decimals
	Plain                     // no unit: z, Cpk, T², SPE, σz
	Seconds                   // a duration in seconds
	Percent                   // a percentage, 0…100
	Fraction                  // a fraction, 0…1 (written as a percentage)
	PerMinute                 // the tag's unit per minute
)

// Detector names of the multivariate detectors (their packages own them:
// analytics/pca, analytics/batchev).
const (
	namePCA            = "pca"
	nameBatchEvolution = "batch_evolution"
)

// Quantities says what the Value, Statistic and Limit of a finding of
// detector and rule measure. An unknown detector (system alarms, a
// detector of a newer version) is taken to report values of its tag.
func Quantities(detector, rule string) (value, statistic, limit Quantity) {
	switch detector {
	case NameFlatline, NameStale:
		return InTagUnit, Seconds, Seconds
	case NameROC:
		return InTagUnit, PerMinute, PerMinute
	case NameTOR:
		if rule == "freeze" {
			return InTagUnit, Seconds, Seconds
		}
		return InTagUnit, Percent, Percent
	case NameNelson:
		if rule == "mr" {
			return InTagUnit, InTagUnit, InTagUnit
		}
		return InTagUnit, Plain, Plain
	case NamePChart:
		return Fraction, Fraction, Fraction
	case NameYield:
		return Percent, Percent, Percent
	case NameCpk:
		return InTagUnit, Plain, Plain
	case namePCA:
		return Plain, Plain, Plain
	case nameBatchEvolution:
		switch rule {
		case "envelope":
			return InTagUnit, Plain, InTagUnit
		case "phase":
			return Seconds, Seconds, Seconds
		}
		return Plain, Plain, Plain
	}
	return InTagUnit, InTagUnit, InTagUnit
}
