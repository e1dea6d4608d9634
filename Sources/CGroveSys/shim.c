// The header is all of it: static inline wrappers.
