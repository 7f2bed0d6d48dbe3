// Package model owns the platform's data model: the Go types of every record
// in the eleven NIMBUS_* KV namespaces (JSON field names exactly as the seed
// specification), key builders and parsers, ID generation, validation and the
// deterministic merge functions both the desktop and the Worker apply before
// every write. It depends on the standard library and golang.org/x/text
// only, and on no other package of this module.
package model
