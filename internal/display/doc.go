// Package display renders what people read the same way everywhere:
// values with their tag's unit and decimals, and times in the site time
// zone (config time_zone), 24-hour and labelled with the zone. The
// console, the CLI, alarm messages, notifications and reports all format
// through a Formatter, so a fill weight reads "12.35 g" and an alarm time
// "2026-12-05 09:51:28 CET" wherever it appears.
package display
