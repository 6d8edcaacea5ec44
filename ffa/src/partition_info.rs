//! Partition-information descriptors in the v1.0 and v1.1+ sizes.
