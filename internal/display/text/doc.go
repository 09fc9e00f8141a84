// Package text holds the formatting rules of package display that
// packages below config need (the analytics detectors write their finding
// messages with the tag's unit and decimals): a leaf with no linewatch
// imports, so display (which reads the config) and detect (which config
// reads) share one definition.
package text
