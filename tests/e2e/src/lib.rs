//! In-process end-to-end harness.
