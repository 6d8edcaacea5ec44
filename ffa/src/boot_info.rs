//! The FF-A boot-information blob handed to partitions.
