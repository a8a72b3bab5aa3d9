// Package hushtest holds helpers for tests that drive the real hush binary, the way
// net/http/httptest helps tests of HTTP code: skipping (or, in CI, failing) when a
// prerequisite is missing, building the binary, making a busybox base image, giving each
// test a fresh state directory, and checking the invariants every build must leave true
// (no mount left behind under the state directory).
//
// It owns no production behaviour and must never be imported by non-test code. It keeps
// no package-level mutable state: callers that want to build hush once per test binary do
// so from TestMain with BuildHush and pass the path around.
package hushtest
