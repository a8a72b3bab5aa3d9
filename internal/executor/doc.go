// Package executor runs one build step's process in an OCI runtime (crun or runc) on a
// rootfs that is already mounted, from a runtime spec that it writes itself.
//
// It owns the runtime spec, the runtime's command line, killing a step on cancellation,
// and removing the mount-point stubs a runtime leaves in the rootfs. It must never write a
// bundle (which may hold a step's environment) anywhere but the tmpfs it is given, and
// never mount or unmount the rootfs itself.
package executor
