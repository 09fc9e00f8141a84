package tep

// disclosure is the fixed part of the report: what was looked at and how
// the published figures compare.
const disclosure = `## Honesty notes

TODO
`
