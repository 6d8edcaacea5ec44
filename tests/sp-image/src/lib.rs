//! Shared runtime of the S-EL1 test partition images.
#![no_std]
