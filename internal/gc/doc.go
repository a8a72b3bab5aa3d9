// Package gc owns what the build cache of a state dir holds on disk and taking back what
// no build needs: the usage records `hush du` lists, `hush prune` with docker buildx's
// meanings (-a, --filter, --keep-storage and its successors), and the garbage-collection
// policy hush runs after builds (LRU by last use, kept under a size).
//
// The build cache is every layer a cache record names (its compressed blob and unpacked
// dir), unpacked layers of stored images, blobs and unpacked layers nothing names, and the
// RUN --mount=type=cache dirs. Stored images are not build cache: a blob an image of the
// store uses is never removed, whatever the options (-a only drops the cache records and
// unpacked dirs of such layers).
//
// It must never remove anything a live lease holds or a running build has locked (a
// cache mount in use): it decides and removes inside the image store's lock and the
// leases' Exclusive, where no build can start holding what it removes, and it never
// deletes a tree while holding them (it renames into a swept trash dir first). It knows
// no paths of the state dir's layout: the builder hands it the opened stores.
package gc
