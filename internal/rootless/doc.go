// Package rootless owns how hush runs for an ordinary user: the user namespace it
// re-executes itself in (root inside mapped to the user, the user's /etc/subuid and
// /etc/subgid ranges mapped after it, written by newuidmap and newgidmap), the handshake
// between the parent that writes those maps and the child that waits for them, the
// per-user state and tmpfs directories, and the checks that say what to install or
// configure when a part is missing (a subordinate ID range, the uidmap package, user
// namespaces, or a container's seccomp, AppArmor or masked /proc).
//
// It must never map an ID the user was not granted, and never run a step or mount a
// layer itself (executor and snapshot do, inside the namespace).
package rootless
