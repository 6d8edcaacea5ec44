//! S-EL1 image of the hostile test partition (see the crate documentation).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
sp_image::partition_image!(test_partitions::definitions::HOSTILE);

/// Host builds have nothing to run: the image exists for the bare-metal target only.
#[cfg(not(target_os = "none"))]
fn main() {}
