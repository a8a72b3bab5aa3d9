FROM busybox
BOGUS instruction
