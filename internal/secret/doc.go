// Package secret owns build secrets on the client side: parsing --secret specs with buildx's
// grammar, reading each value once into memory, and handing values to the build by id.
//
// Values live only in memory here. This package must never write a value to disk, put one
// in an error message, a log line or a cache key, or import anything from the build
// pipeline (build, executor, snapshot, image).
package secret
