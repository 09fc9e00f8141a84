package detect

import (
	"fmt"
	"strings"
)

// Temperature scales of a tag, as MKTParams.Scale and TORParams.Scale
// hold them: "" is Celsius (and a temperature tag with no unit, as
// before units were configured), so the parameters of a Celsius tag, and
// the fingerprint of their saved state, are what they always were.
const (
	ScaleCelsius    = ""
	ScaleFahrenheit = "F"
	ScaleKelvin     = "K"
)

// TemperatureScale is the scale of a tag's unit: °C, C, degC, celsius →
// ScaleCelsius, °F, F, degF, fahrenheit → ScaleFahrenheit, K, kelvin →
// ScaleKelvin; an empty unit is taken as Celsius. Any other unit is not a
// temperature and an error.
func TemperatureScale(unit string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(unit)) {
	case "", "°c", "c", "degc", "celsius", "℃":
		return ScaleCelsius, nil
	case "°f", "f", "degf", "fahrenheit", "℉":
		return ScaleFahrenheit, nil
	case "k", "kelvin":
		return ScaleKelvin, nil
	}
	return "", fmt.Errorf("unit %q is not a temperature (°C, °F or K)", unit)
}

// toCelsius converts a reading in scale to °C.
func toCelsius(scale string, v float64) float64 {
	switch scale {
	case ScaleFahrenheit:
		return (v - 32) * 5 / 9
	case ScaleKelvin:
		return v - kelvin
	}
	return v
}

// fromCelsius converts °C to scale.
func fromCelsius(scale string, c float64) float64 {
	switch scale {
	case ScaleFahrenheit:
		return c*9/5 + 32
	case ScaleKelvin:
		return c + kelvin
	}
	return c
}

// checkScale checks a configured scale.
func checkScale(scale string) error {
	switch scale {
	case ScaleCelsius, ScaleFahrenheit, ScaleKelvin:
		return nil
	}
	return fmt.Errorf("scale = %q must be %q (°C), %q or %q", scale, ScaleCelsius, ScaleFahrenheit, ScaleKelvin)
}

// temperatureTarget is the check of a cold-chain detector's tag: its unit
// is a temperature.
func temperatureTarget(t Target) []Problem {
	if _, err := TemperatureScale(t.Unit); err != nil {
		return []Problem{{Allowed: fmt.Sprintf("tag %s: %v; mean kinetic temperature and time out of refrigeration need a temperature tag", t.Tag, err)}}
	}
	return nil
}
