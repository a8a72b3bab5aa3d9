// Package hushtest holds helpers for tests that drive the real hush binary, the way
// net/http/httptest helps tests of HTTP code: skipping (or, in CI, failing) when a
// prerequisite is missing, building the binary, making a busybox base image, giving each
// test a fresh state directory (with its own TMPDIR and tmpfs directory), and checking the
// invariants every build must leave true (no mount left behind under the state directory,
// no secret canary in any directory the test owns). Every skip in hush's tests goes
// through Require (a test enforces it), so HUSH_REQUIRE_ALL=1 turns each into a failure.
// Canary checks never read shared directories such as all of /tmp or /dev/shm. With
// HUSH_TEST_ROOTLESS=1 every Env runs hush as an ordinary test user (RootlessUser), so the
// same end-to-end tests check rootless mode.
//
// It owns no production behaviour and must never be imported by non-test code. It keeps
// no package-level mutable state: callers that want to build hush once per test binary do
// so from TestMain with BuildHush and pass the path around.
package hushtest
